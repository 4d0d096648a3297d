"""One malformed message must not end the language server: each bad message gets a JSON-RPC error
(id null) and the server goes on answering. Runs the real binary over pipes with bytes that no LSP
library would send."""

from __future__ import annotations

import pytest

from raw_client import RawServer, did_open, frame, notification, request

VALID_REQUEST = b'{"jsonrpc":"2.0","id":99,"method":"shutdown"}'

# (id, bytes, expected error code). The bytes are sent as they are, header included.
CASES = [
    ("number", frame(b"42"), -32600),
    ("empty-array", frame(b"[]"), -32600),
    ("batch", frame(b'[' + VALID_REQUEST + b']'), -32600),
    ("null", frame(b"null"), -32600),
    ("empty-object", frame(b"{}"), -32600),
    ("float-id", frame(b'{"jsonrpc":"2.0","id":1.5,"method":"shutdown"}'), -32600),
    ("not-json", frame(b"this is not json"), -32700),
    ("truncated-json", frame(b'{"jsonrpc":"2.0",'), -32700),
    ("invalid-utf8", frame(b'{"jsonrpc":"2.0","method":"x","params":"\xff\xfe"}'), -32700),
    ("lone-surrogate", frame(b'{"jsonrpc":"2.0","method":"x","params":"\\ud800"}'), -32700),
    ("too-deep", frame(b'{"jsonrpc":"2.0","method":"x","params":' + b"[" * 300 + b"]" * 300 + b"}"),
     -32700),
    ("empty-body", b"Content-Length: 0\r\n\r\n", -32700),
    ("content-length-not-a-number", b"Content-Length: abc\r\n\r\n{}", -32700),
    ("content-length-negative", b"Content-Length: -12\r\n\r\n", -32700),
    ("no-content-length", b"Content-Type: application/vscode-jsonrpc\r\n\r\n{}", -32700),
    ("garbage-header", b"hello server\r\n\r\n", -32700),
    ("content-length-huge", b"Content-Length: 99999999999999\r\n\r\n{}", -32600),
]


@pytest.fixture
def server():
    srv = RawServer()
    yield srv
    srv.close()


def _refusals(server: RawServer, seen: list[dict], count: int) -> list[dict]:
    """The error answers (id null) among `seen`, and then among the messages that follow, until
    there are `count` of them: they travel apart from the server's other answers, so they may come
    before or after the answer to the next request."""
    errors = [m for m in seen if "error" in m and m.get("id", 0) is None]
    while len(errors) < count:
        msg = server.receive(10)
        assert msg is not None, f"the server closed its output after {errors}"
        if "error" in msg and msg.get("id", 0) is None:
            errors.append(msg)
    return errors


def _assert_refused(server: RawServer, before: list[dict], code: int) -> None:
    first = _refusals(server, before, 1)[0]
    assert first["id"] is None, first
    assert first["error"]["code"] == code, first
    text = first["error"]["message"]
    assert text.endswith(".") and ". " not in text, f"one sentence: {text!r}"


@pytest.mark.parametrize("bad,code", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_message_before_initialize(server, bad, code):
    """The bad message is answered with an error, and `initialize` right after it still works."""
    server.send(bad)
    server.send(request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
    response, before = server.until_response(1)
    assert "capabilities" in response.get("result", {}), response
    _assert_refused(server, before, code)
    server.send(request(2, "shutdown"))
    response, _ = server.until_response(2)
    assert response.get("result", "missing") is None, response


@pytest.mark.parametrize("bad,code", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_message_after_initialize(server, bad, code, tmp_path):
    """Mid-session: the server answers the error, then hover and shutdown, then exits 0."""
    server.initialize()
    server.send(bad)
    path = tmp_path / "a.recipe.yaml"
    text = "num_epochs: 10\nmodifiers:\n  - !EpochRangeModifier\n    end_epoch: 10.0\n"
    uri, opened = did_open(path, text)
    server.send(opened)
    server.send(request(2, "textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}))
    response, before = server.until_response(2)
    assert "EpochRangeModifier" in str(response.get("result")), response
    _assert_refused(server, before, code)
    assert server.shutdown_and_exit(3) == 0


def test_several_malformed_messages_in_a_row(server):
    server.initialize()
    for _, bad, _ in CASES:
        server.send(bad)
    server.send(request(2, "shutdown"))
    _, before = server.until_response(2)
    # After a bad header the server skips to the next `Content-Length:`, so the two cases without
    # one that follow `content-length-negative` are skipped with it rather than answered.
    skipped = {"no-content-length", "garbage-header"}
    expected = [code for name, _, code in CASES if name not in skipped]
    errors = _refusals(server, before, len(expected))
    assert [e["error"]["code"] for e in errors] == expected


def test_end_of_stdin_ends_the_server(server):
    server.initialize()
    server.send(frame(b"42"))
    server.proc.stdin.close()
    assert server.wait(10) == 0


def test_a_client_that_leaves_without_answering_does_not_leave_the_server_running():
    """The server asks the client to register file watchers after `initialized`; a client that
    closes stdin without answering must not leave the server waiting for that answer forever."""
    server = RawServer(answer_requests=False)
    try:
        server.send(request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
        server.until_response(1)
        server.send(notification("initialized", {}))
        msg = server.receive(10)
        assert msg is not None and msg.get("method") == "client/registerCapability", msg
        server.proc.stdin.close()
        assert server.wait(10) == 0
    finally:
        server.close()


def test_exit_ends_the_server_with_stdin_still_open(server):
    server.initialize()
    assert server.shutdown_and_exit(2, timeout=10) == 0


def test_a_100_mb_document_still_opens(server, tmp_path):
    """A 100 MB message is read and the server stays responsive; the recipe is too large to check
    and says so in one diagnostic."""
    server.initialize()
    text = "# padding\n" * (10 * 1024 * 1024)
    uri, opened = did_open(tmp_path / "huge.recipe.yaml", text)
    assert len(opened) > 100 * 1024 * 1024
    server.send(opened)
    diagnostics = server.until_diagnostics(uri, timeout=60)
    assert [d["code"] for d in diagnostics] == ["too-large"], diagnostics
    assert "split it into smaller recipes" in diagnostics[0]["message"]
    assert server.shutdown_and_exit(2) == 0
