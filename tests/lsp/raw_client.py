"""A bare language-server client over pipes, for tests that send what no LSP library would: bodies
of `42` or invalid UTF-8, broken headers, messages of 100 MB. A reader thread splits the server's
stdout into messages, so every wait has a timeout and a server that stops answering fails the test
instead of hanging it. It answers the server's own requests (registerCapability,
workspace/configuration) with null at once, as an editor does: the server waits for those answers
before `exit` can end it."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

from lsp_harness import LSP_BIN, REPO_ROOT


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def message(obj: dict) -> bytes:
    return frame(json.dumps(obj).encode())


def request(id_: int, method: str, params=None) -> bytes:
    obj = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        obj["params"] = params
    return message(obj)


def notification(method: str, params=None) -> bytes:
    obj = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        obj["params"] = params
    return message(obj)


INITIALIZE_PARAMS = {"processId": None, "rootUri": REPO_ROOT.as_uri(), "capabilities": {}}


class RawServer:
    """`prunekit-lsp --stdio` with its messages in a queue."""

    def __init__(self, answer_requests: bool = True) -> None:
        self.answer_requests = answer_requests
        self.proc = subprocess.Popen([str(LSP_BIN), "--stdio"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.stderr = b""
        self._write_lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.rstrip(b"\r\n")
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = out.read(length or 0)
            try:
                msg = json.loads(body)
            except ValueError:
                msg = {"unparsable": body[:200]}
            if self.answer_requests and isinstance(msg, dict) and "method" in msg and "id" in msg:
                # The server's own request: answered at once, as an editor would.
                try:
                    self.send(message({"jsonrpc": "2.0", "id": msg["id"], "result": None}))
                except (BrokenPipeError, ValueError, OSError):
                    pass
            self.messages.put(msg)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, data: bytes) -> None:
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict | None:
        """The next message; None when the server closed stdout. Fails after `timeout` s."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message from the server within {timeout} s; "
                                 f"stderr: {self.stderr.decode(errors='replace')[-2000:]}") from None

    def until_response(self, id_: int, timeout: float = 20.0) -> tuple[dict, list[dict]]:
        """The response to request `id_`, and every message that came before it."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            msg = self.receive(max(0.1, deadline - time.monotonic()))
            assert msg is not None, (f"the server closed its output before answering request {id_}; "
                                     f"before: {before}; stderr: {self.stderr.decode(errors='replace')[-2000:]}")
            if msg.get("id") == id_ and "method" not in msg:
                return msg, before
            before.append(msg)

    def until_diagnostics(self, uri: str, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.receive(max(0.1, deadline - time.monotonic()))
            assert msg is not None, "the server closed its output"
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                return msg["params"]["diagnostics"]

    def initialize(self, id_: int = 1) -> dict:
        """initialize and initialized; returns once the server has asked for its settings (the
        last thing it does for `initialized`), so that no request of the server is still waiting
        for an answer when the test later sends `exit`."""
        self.send(request(id_, "initialize", INITIALIZE_PARAMS))
        response, _ = self.until_response(id_)
        assert "capabilities" in response.get("result", {}), response
        self.send(notification("initialized", {}))
        deadline = time.monotonic() + 20
        while True:
            msg = self.receive(max(0.1, deadline - time.monotonic()))
            assert msg is not None, "the server closed its output"
            if msg.get("method") == "workspace/configuration":
                return response

    def shutdown_and_exit(self, id_: int, timeout: float = 20.0) -> int:
        self.send(request(id_, "shutdown"))
        response, _ = self.until_response(id_)
        assert "result" in response and response["result"] is None, response
        self.send(notification("exit"))
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {timeout} s") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


def did_open(path: Path, text: str, language_id: str = "yaml") -> tuple[str, bytes]:
    uri = path.resolve().as_uri()
    return uri, notification("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": language_id, "version": 1, "text": text}})
