"""Helpers for driving the prunekit kernel with real Jupyter clients (jupyter_client, pyzmq).

The hermetic Jupyter environment and the kernelspec come from conftest.py; these helpers only
start kernels by name, send requests and collect what comes back, filtered by parent msg_id so
several clients can share one kernel.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import struct
import time
from pathlib import Path
from queue import Empty
from typing import Any, Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

REPO_ROOT = Path(__file__).resolve().parents[2]
KERNEL_BIN = REPO_ROOT / "target" / "release" / "prunekit-kernel"
KERNEL_NAME = "prunekit"
FIXTURES = REPO_ROOT / "tests" / "fixtures"
DIGITS = FIXTURES / "digits_cnn.onnx"
EXAMPLES = REPO_ROOT / "examples"

# The structured result of a command (README.md "Output JSON"). Not `application/json`: JupyterLab
# ranks its JSON viewer above HTML and would show a JSON tree instead of the table.
RESULT_MIME = "application/vnd.prunekit.result+json"

# Facts about the digits CNN, as README.md prints them.
DIGITS_PARAMS = 3738
DIGITS_LAYERS = 12

OUTPUT_TYPES = ("stream", "display_data", "update_display_data", "execute_result", "error",
                "clear_output")



@contextlib.contextmanager
def hermetic_kernelspec(root: Path) -> Iterator[Path]:
    """Installs the prunekit kernelspec under `root` with `prunekit-kernel install --prefix` and
    points every Jupyter directory into `root` (shared/reference/jupyter.md §2.3) while the block
    runs, so nothing reads or writes the developer's own kernelspecs, runtime files or config.
    Yields the kernelspec directory; os.environ is restored afterwards."""
    if not KERNEL_BIN.is_file():
        pytest.fail(f"{KERNEL_BIN} is missing: run `make release` first", pytrace=False)
    prefix = root / "prefix"
    proc = subprocess.run([str(KERNEL_BIN), "install", "--prefix", str(prefix)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.fail(f"`prunekit-kernel install --prefix {prefix}` exited {proc.returncode}:\n"
                    f"{proc.stdout}\n{proc.stderr}", pytrace=False)
    spec_dir = prefix / "share" / "jupyter" / "kernels" / KERNEL_NAME
    if not (spec_dir / "kernel.json").is_file():
        pytest.fail(f"`prunekit-kernel install --prefix {prefix}` wrote no {spec_dir}/kernel.json",
                    pytrace=False)
    hermetic = {
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(root / "ipython"),
    }
    for name in ("data", "runtime", "config", "ipython"):
        (root / name).mkdir()
    saved = {name: os.environ.get(name) for name in hermetic}
    os.environ.update(hermetic)
    try:
        yield spec_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

def start_kernel(cwd: Path | str | None = None, ready_timeout: float = 15
                 ) -> tuple[KernelManager, BlockingKernelClient]:
    """Start `prunekit` the way frontends do: KernelManager, a client, wait_for_ready."""
    km = KernelManager(kernel_name=KERNEL_NAME)
    kwargs: dict[str, Any] = {}
    if cwd is not None:
        kwargs["cwd"] = str(cwd)
    km.start_kernel(**kwargs)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=ready_timeout)
    except BaseException:
        kc.stop_channels()
        stop_kernel(km)
        raise
    return km, kc


def stop_kernel(km: KernelManager) -> None:
    """Shut a kernel down; kill it if it is still around afterwards (never leave one running)."""
    try:
        if km.has_kernel and km.is_alive():
            km.shutdown_kernel(now=False)
    finally:
        if km.has_kernel and km.is_alive():
            km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()


@contextlib.contextmanager
def running_kernel(cwd: Path | str | None = None
                   ) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    km, kc = start_kernel(cwd)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        stop_kernel(km)


def new_frontend(km: KernelManager) -> BlockingKernelClient:
    """Another client of km's kernel with its own session, hence its own ZeroMQ identity.

    km.client() copies km's session id, and jupyter_client uses the session id as the identity
    of its shell, control and stdin sockets; separate frontends (another process, each
    jupyter_server WebSocket) have separate sessions. ROUTER sockets route replies by identity,
    so two live clients sharing one would get each other's replies (or none).
    """
    from jupyter_client.session import Session

    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
    return km.client(session=session)


def kernel_process(km: KernelManager):
    """The kernel's subprocess.Popen (jupyter_client's local provisioner)."""
    return km.provisioner.process  # type: ignore[union-attr]


def _reply(get, channel: str, msg_id: str, timeout: float) -> dict:
    """The reply to msg_id read with `get` (kc.get_shell_msg or kc.get_control_msg); replies to
    other requests (e.g. wait_for_ready's kernel_info) are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {channel} reply to {msg_id} within {timeout} s")
        try:
            msg = get(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def shell_reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 15) -> dict:
    return _reply(kc.get_shell_msg, "shell", msg_id, timeout)


def control_reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 5) -> dict:
    return _reply(kc.get_control_msg, "control", msg_id, timeout)


def send_control(kc: BlockingKernelClient, msg_type: str, content: dict | None = None) -> str:
    msg = kc.session.msg(msg_type, content or {})
    kc.control_channel.send(msg)
    return msg["header"]["msg_id"]


def iopub_until_idle(kc: BlockingKernelClient, msg_id: str, timeout: float = 15) -> list[dict]:
    """Every iopub message whose parent is msg_id, up to and including its `status: idle`."""
    deadline = time.monotonic() + timeout
    got: list[dict] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            types = [m["msg_type"] for m in got]
            raise AssertionError(f"no status idle for {msg_id} within {timeout} s; got {types}")
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got


def iopub_wait_for(kc: BlockingKernelClient, msg_id: str, predicate, timeout: float = 10
                   ) -> tuple[dict, list[dict]]:
    """Read iopub until a message with parent msg_id satisfies predicate; returns it and all read."""
    deadline = time.monotonic() + timeout
    seen: list[dict] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            types = [m["msg_type"] for m in seen]
            raise AssertionError(f"iopub: nothing matching for {msg_id} within {timeout} s; "
                                 f"got {types}")
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if predicate(msg):
            return msg, seen


def outputs_of(iopub: list[dict]) -> list[dict]:
    return [m for m in iopub if m["msg_type"] in OUTPUT_TYPES]


def execute(kc: BlockingKernelClient, code: str, timeout: float = 15, **kwargs: Any
            ) -> tuple[dict, list[dict], list[dict]]:
    """Run one cell: (execute_reply, output messages, every iopub message of the request)."""
    msg_id = kc.execute(code, **kwargs)
    reply = shell_reply(kc, msg_id, timeout)
    iopub = iopub_until_idle(kc, msg_id, timeout)
    return reply, outputs_of(iopub), iopub


def execute_ok(kc: BlockingKernelClient, code: str, timeout: float = 15, **kwargs: Any
               ) -> tuple[dict, list[dict]]:
    reply, outputs, _ = execute(kc, code, timeout, **kwargs)
    errors = [o["content"] for o in outputs if o["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", (
        f"{code!r}: execute_reply status {reply['content']['status']!r} "
        f"({reply['content'].get('ename')}: {reply['content'].get('evalue')}); error outputs {errors}")
    assert not errors, f"{code!r}: error outputs {errors}"
    return reply, outputs


def results(outputs: list[dict]) -> list[dict]:
    return [o for o in outputs if o["msg_type"] == "execute_result"]


def displays(outputs: list[dict]) -> list[dict]:
    return [o for o in outputs if o["msg_type"] == "display_data"]


def png_size(data_b64: str) -> tuple[int, int]:
    """Pixel width and height of a base64 PNG (standard base64 with padding, no data: prefix)."""
    assert not data_b64.startswith("data:"), "image/png must be bare base64, not a data: URL"
    raw = base64.b64decode(data_b64.replace("\n", ""), validate=True)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "image/png does not decode to a PNG file"
    assert raw[12:16] == b"IHDR", "PNG without an IHDR chunk first"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def check_chart_bundle(data: dict, metadata: dict, where: str) -> None:
    """A chart: image/png rendered at 2x, its 1x size in metadata["image/png"]."""
    assert "image/png" in data, f"{where}: no image/png in {sorted(data)}"
    size = metadata.get("image/png")
    assert isinstance(size, dict) and {"width", "height"} <= set(size), (
        f"{where}: metadata['image/png'] should be {{width, height}}, got {metadata!r}")
    w, h = size["width"], size["height"]
    assert isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0, (
        f"{where}: width/height must be positive integers, got {size!r}")
    pw, ph = png_size(data["image/png"])
    assert (pw, ph) == (2 * w, 2 * h), (
        f"{where}: PNG is {pw}x{ph} pixels; rendered at 2x it should be {2 * w}x{2 * h} "
        f"(metadata {w}x{h})")


def check_table_bundle(data: dict, where: str) -> None:
    """A table result: text/plain, text/html with a <table>, the structured result an object."""
    assert "text/plain" in data, f"{where}: no text/plain in {sorted(data)}"
    assert "<table" in data.get("text/html", ""), f"{where}: text/html without a <table>"
    js = data.get(RESULT_MIME)
    assert isinstance(js, dict), (
        f"{where}: {RESULT_MIME} should be an object, got {type(js).__name__}; mimes {sorted(data)}")
    check_json_mimes(data, where)


def check_json_mimes(data: dict, where: str) -> None:
    """Every JSON mime type carries a real JSON object or array, never a JSON string."""
    for mime, value in data.items():
        if mime == "application/json" or mime.endswith("+json"):
            assert isinstance(value, (dict, list)), (
                f"{where}: {mime} is a {type(value).__name__}, not a JSON object/array")


def structured(output: dict) -> dict:
    """The structured result of an execute_result/display_data message."""
    return output["content"]["data"][RESULT_MIME]


class RawClient:
    """Hand-made DEALER sockets on shell and control and a SUB on iopub, for frames that
    jupyter_client would never send. Valid messages are built and signed by jupyter_client's
    Session with the kernel's key."""

    def __init__(self, km: KernelManager) -> None:
        import zmq
        from jupyter_client.session import Session

        self._zmq = zmq
        info = km.get_connection_info()
        self.session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
        self.ctx = zmq.Context()
        base = f"{info['transport']}://{info['ip']}:"

        def dealer(port: int):
            s = self.ctx.socket(zmq.DEALER)
            s.linger = 0
            s.connect(base + str(port))
            return s

        self.shell = dealer(info["shell_port"])
        self.control = dealer(info["control_port"])
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.linger = 0
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(base + str(info["iopub_port"]))

    def close(self) -> None:
        for s in (self.shell, self.control, self.iopub):
            s.close(linger=0)
        self.ctx.term()

    def frames(self, msg_type: str, content: dict | None = None) -> tuple[str, list[bytes]]:
        """A valid, signed request: (msg_id, [delimiter, signature, header, parent, metadata,
        content])."""
        msg = self.session.msg(msg_type, content or {})
        return msg["header"]["msg_id"], self.session.serialize(msg)

    def sign(self, parts: list[bytes]) -> bytes:
        return self.session.sign(parts)

    def recv(self, sock, timeout: float) -> dict | None:
        """One message from sock within timeout, deserialized (signature checked), else None."""
        if not sock.poll(int(timeout * 1000)):
            return None
        raw = sock.recv_multipart()
        _, rest = self.session.feed_identities(raw)
        return self.session.deserialize(rest)

    def replies_until(self, sock, msg_id: str, timeout: float = 5) -> list[dict]:
        """Every message on sock up to and including the reply to msg_id."""
        deadline = time.monotonic() + timeout
        got: list[dict] = []
        while True:
            left = deadline - time.monotonic()
            msg = self.recv(sock, max(left, 0)) if left > 0 else None
            if msg is None:
                parents = [m["parent_header"].get("msg_id") for m in got]
                raise AssertionError(f"no reply to {msg_id} within {timeout} s; "
                                     f"other replies to {parents}")
            got.append(msg)
            if msg["parent_header"].get("msg_id") == msg_id:
                return got

    def drain_iopub(self, quiet: float = 0.3) -> list[dict]:
        got = []
        while (msg := self.recv(self.iopub, quiet)) is not None:
            got.append(msg)
        return got
