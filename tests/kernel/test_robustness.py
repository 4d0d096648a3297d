"""The prunekit kernel under the stress real frontends put on it (jupyter_client and raw pyzmq).

Client churn while a cell runs, forged and malformed frames, interrupts, stop_on_error aborts,
shutdown in the middle of a cell, and cursor positions counted in code points
(shared/reference/jupyter.md §5, §6).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import time
from pathlib import Path

import pytest

from kernel_harness import (
    DIGITS,
    RawClient,
    control_reply,
    execute_ok,
    iopub_until_idle,
    iopub_wait_for,
    kernel_process,
    new_frontend,
    outputs_of,
    results,
    running_kernel,
    send_control,
    shell_reply,
    structured,
)

pytestmark = pytest.mark.timeout(40)

# The spec: an interrupted `sleep` ends within a second. The margin covers message delivery and a
# busy 2-core CI machine, not a slower kernel.
INTERRUPT_DEADLINE_S = 1.5


def is_progress_start(msg: dict) -> bool:
    return (msg["msg_type"] == "display_data"
            and bool(msg["content"].get("transient", {}).get("display_id")))


def wait_until_sleeping(kc, msg_id: str) -> str:
    """Wait for the `sleep` cell's progress display and its first update; returns the display id."""
    start, _ = iopub_wait_for(kc, msg_id, is_progress_start, timeout=5)
    display_id = start["content"]["transient"]["display_id"]
    iopub_wait_for(kc, msg_id, lambda m: m["msg_type"] == "update_display_data", timeout=5)
    return display_id


def error_output(outputs: list[dict]) -> dict:
    errors = [o["content"] for o in outputs if o["msg_type"] == "error"]
    assert len(errors) == 1, f"expected one error output, got {[o['msg_type'] for o in outputs]}"
    return errors[0]


# --- many clients ------------------------------------------------------------------------------


def test_fifty_clients_come_and_go_while_a_cell_runs() -> None:
    with running_kernel() as (km, kc):
        sleep_id = kc.execute("sleep 3")
        wait_until_sleeping(kc, sleep_id)

        clients = []
        try:
            stayers = []
            for i in range(50):
                client = new_frontend(km)
                clients.append(client)
                client.start_channels(hb=False)
                # control is served beside the busy shell: kernel_info answers at once.
                info_id = send_control(client, "kernel_info_request")
                reply = control_reply(client, info_id, timeout=2)
                assert reply["content"]["status"] == "ok", f"client {i}: {reply['content']}"
                shell_info_id = client.kernel_info()
                exec_id = client.execute(f"echo client {i}")
                if i % 2:
                    client.stop_channels()  # leaves before its replies exist
                else:
                    stayers.append((i, client, shell_info_id, exec_id))
            assert not kc.shell_channel.msg_ready(), (
                "the `sleep 3` cell ended before the clients had connected; the test proves nothing")

            for i, client, shell_info_id, exec_id in stayers:
                info = shell_reply(client, shell_info_id, timeout=15)
                assert info["content"]["status"] == "ok", f"client {i}: {info['content']}"
                reply = shell_reply(client, exec_id, timeout=15)
                assert reply["content"]["status"] == "ok", f"client {i}: {reply['content']}"
                texts = [o["content"]["text"] for o in outputs_of(iopub_until_idle(client, exec_id))
                         if o["msg_type"] == "stream"]
                assert "".join(texts) == f"client {i}\n", f"client {i}: streams {texts}"
        finally:
            for client in clients:
                client.stop_channels()

        sleep_reply = shell_reply(kc, sleep_id, timeout=15)
        assert sleep_reply["content"]["status"] == "ok", sleep_reply["content"]
        assert km.is_alive()
        assert kc.hb_channel.is_beating(), "the heartbeat stopped"
        execute_ok(kc, "echo still here")

        newcomer = new_frontend(km)
        newcomer.start_channels()
        try:
            newcomer.wait_for_ready(timeout=10)
            execute_ok(newcomer, "echo newcomer")
        finally:
            newcomer.stop_channels()


# --- forged and malformed frames ----------------------------------------------------------------

# Dropped without a reply (jupyter.md §5.1): the kernel cannot trust or cannot parse them.
REJECTED = ["wrong signature", "empty signature", "missing delimiter", "non-JSON header",
            "truncated frame list"]
# Correctly signed but odd: a reply is optional, surviving them is not.
ODD = ["non-UTF-8 content", "header not an object", "header without msg_type",
       "content not an object"]


def malformed(raw: RawClient, case: str, msg_type: str, content: dict) -> tuple[str, list[bytes]]:
    msg_id, frames = raw.frames(msg_type, content)
    delim, _sig, header, parent, metadata, body = frames

    def signed(h: bytes, p: bytes, m: bytes, c: bytes) -> list[bytes]:
        return [delim, raw.sign([h, p, m, c]), h, p, m, c]

    if case == "wrong signature":
        forged = hmac.new(b"not the kernel's key", header + parent + metadata + body,
                          hashlib.sha256).hexdigest().encode()
        return msg_id, [delim, forged, header, parent, metadata, body]
    if case == "empty signature":
        return msg_id, [delim, b"", header, parent, metadata, body]
    if case == "missing delimiter":
        return msg_id, frames[1:]
    if case == "non-JSON header":
        return msg_id, signed(b'{"msg_id": "' + msg_id.encode() + b'", "msg_type": ', parent,
                              metadata, body)
    if case == "truncated frame list":
        return msg_id, [delim, raw.sign([header, parent]), header, parent]
    if case == "non-UTF-8 content":
        return msg_id, signed(header, parent, metadata, b'{"code": "\xff\xfe"}')
    if case == "header not an object":
        return msg_id, signed(b'["' + msg_id.encode() + b'"]', parent, metadata, body)
    if case == "header without msg_type":
        h = json.loads(header)
        del h["msg_type"]
        return msg_id, signed(json.dumps(h).encode(), parent, metadata, body)
    if case == "content not an object":
        return msg_id, signed(header, parent, metadata, b"[1, 2, 3]")
    raise ValueError(case)


def request_content(channel: str) -> tuple[str, dict]:
    if channel == "shell":
        return "execute_request", {"code": "echo forged", "silent": False, "store_history": True,
                                   "user_expressions": {}, "allow_stdin": False,
                                   "stop_on_error": True}
    return "kernel_info_request", {}


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_forged_and_malformed_messages_get_no_reply(channel: str) -> None:
    with running_kernel() as (km, _kc):
        raw = RawClient(km)
        try:
            welcome = raw.recv(raw.iopub, 5)
            assert welcome is not None and welcome["msg_type"] == "iopub_welcome", welcome
            sock = raw.shell if channel == "shell" else raw.control
            msg_type, content = request_content(channel)

            bad_ids = []
            for case in REJECTED + ODD:
                bad_id, frames = malformed(raw, case, msg_type, content)
                bad_ids.append(bad_id)
                sock.send_multipart(frames)
                good_id, good = raw.frames("kernel_info_request")
                sock.send_multipart(good)
                got = raw.replies_until(sock, good_id, timeout=5)
                assert got[-1]["msg_type"] == "kernel_info_reply", (
                    f"{channel}, after {case}: {got[-1]['msg_type']}")
                answered = [m["parent_header"].get("msg_id") for m in got[:-1]]
                if case in REJECTED:
                    assert not answered, f"{channel}, {case}: the kernel replied to it ({answered})"

            # A valid request with an extra buffer frame is answered normally.
            good_id, good = raw.frames("kernel_info_request")
            sock.send_multipart(good + [b"\x00\x01 a binary buffer"])
            assert raw.replies_until(sock, good_id, timeout=5)[-1]["msg_type"] == "kernel_info_reply"

            late = raw.recv(sock, 0.3)
            assert late is None, f"{channel}: late reply to {late['parent_header']}"
            published = raw.drain_iopub()
            rejected_ids = set(bad_ids[:len(REJECTED)])
            about_rejected = [(m["msg_type"], m["parent_header"]["msg_id"]) for m in published
                              if m["parent_header"].get("msg_id") in rejected_ids]
            assert not about_rejected, (
                f"{channel}: iopub messages for rejected requests: {about_rejected}")
            forged = [m["content"] for m in published if m["msg_type"] == "stream"
                      and m["parent_header"].get("msg_id") in rejected_ids]
            assert not forged, f"{channel}: a forged cell ran: {forged}"
        finally:
            raw.close()
        assert km.is_alive()


# --- interrupt ---------------------------------------------------------------------------------


def test_interrupt_ends_a_sleep_and_keeps_the_model(digits: Path) -> None:
    with running_kernel() as (_km, kc):
        execute_ok(kc, f"load {digits}")
        sleep_id = kc.execute("sleep 30")
        display_id = wait_until_sleeping(kc, sleep_id)

        t0 = time.monotonic()
        interrupt_id = send_control(kc, "interrupt_request")
        reply = shell_reply(kc, sleep_id, timeout=10)
        elapsed = time.monotonic() - t0
        ack = control_reply(kc, interrupt_id)
        assert ack["msg_type"] == "interrupt_reply" and ack["content"]["status"] == "ok", ack

        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        assert elapsed <= INTERRUPT_DEADLINE_S, f"the interrupted sleep ended after {elapsed:.2f} s"
        iopub = iopub_until_idle(kc, sleep_id)
        err = error_output(outputs_of(iopub))
        assert err["ename"] == "KeyboardInterrupt", err
        updates = [m for m in iopub if m["msg_type"] == "update_display_data"]
        assert all(m["content"]["transient"]["display_id"] == display_id for m in updates)

        _, outputs = execute_ok(kc, "layers")
        (result,) = results(outputs)
        model = structured(result)["model"]
        assert Path(model["path"]).resolve() == digits.resolve(), model["path"]
        execute_ok(kc, "sleep 0.2")  # the interrupt does not stick to the next cell


def test_interrupt_kernel_from_the_manager() -> None:
    """KernelManager.interrupt_kernel() sends interrupt_request because of interrupt_mode."""
    with running_kernel() as (km, kc):
        sleep_id = kc.execute("sleep 30")
        wait_until_sleeping(kc, sleep_id)
        t0 = time.monotonic()
        km.interrupt_kernel()
        reply = shell_reply(kc, sleep_id, timeout=10)
        elapsed = time.monotonic() - t0
        assert reply["content"].get("ename") == "KeyboardInterrupt", reply["content"]
        assert elapsed <= INTERRUPT_DEADLINE_S, f"the interrupted sleep ended after {elapsed:.2f} s"


def test_interrupt_aborts_queued_cells() -> None:
    with running_kernel() as (_km, kc):
        sleep_id = kc.execute("sleep 30")
        queued_id = kc.execute("echo queued")
        wait_until_sleeping(kc, sleep_id)
        send_control(kc, "interrupt_request")
        assert shell_reply(kc, sleep_id)["content"]["ename"] == "KeyboardInterrupt"
        queued = shell_reply(kc, queued_id, timeout=5)
        assert queued["content"]["status"] == "aborted", queued["content"]
        execute_ok(kc, "echo afterwards")


# --- stop_on_error -----------------------------------------------------------------------------


def test_stop_on_error_aborts_the_queued_cells() -> None:
    with running_kernel() as (_km, kc):
        # The sleep makes sure both echo requests are queued on shell before the load fails.
        failing = kc.execute("sleep 0.5\nload nope.onnx")
        queued = [kc.execute("echo queued one"), kc.execute("echo queued two")]

        reply = shell_reply(kc, failing)
        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "IoError", reply["content"]
        for msg_id in queued:
            aborted = shell_reply(kc, msg_id, timeout=5)
            assert aborted["content"]["status"] == "aborted", aborted["content"]
        for msg_id in queued:
            iopub = iopub_until_idle(kc, msg_id, timeout=5)
            states = [m["content"]["execution_state"] for m in iopub if m["msg_type"] == "status"]
            assert states == ["busy", "idle"], f"aborted request: status messages {states}"
            assert not outputs_of(iopub), f"an aborted cell produced {outputs_of(iopub)}"

        _, outputs = execute_ok(kc, "echo after the abort")
        assert [o["content"]["text"] for o in outputs] == ["after the abort\n"]


def test_without_stop_on_error_queued_cells_run() -> None:
    with running_kernel() as (_km, kc):
        failing = kc.execute("sleep 0.3\nload nope.onnx", stop_on_error=False)
        queued = kc.execute("echo still runs")
        assert shell_reply(kc, failing)["content"]["status"] == "error"
        assert shell_reply(kc, queued)["content"]["status"] == "ok"


# --- shutdown ----------------------------------------------------------------------------------


def test_shutdown_request_in_the_middle_of_a_sleep() -> None:
    with running_kernel() as (km, kc):
        sleep_id = kc.execute("sleep 30")
        wait_until_sleeping(kc, sleep_id)
        t0 = time.monotonic()
        shutdown_id = kc.shutdown()  # on control
        reply = control_reply(kc, shutdown_id, timeout=5)
        assert reply["msg_type"] == "shutdown_reply", reply["msg_type"]
        assert reply["content"]["status"] == "ok" and reply["content"]["restart"] is False, (
            reply["content"])
        returncode = kernel_process(km).wait(timeout=5)
        elapsed = time.monotonic() - t0
        assert elapsed < 3, f"the kernel took {elapsed:.1f} s to exit after shutdown_request"
        assert returncode == 0, f"the kernel exited with {returncode} after shutdown_request"


def test_kernel_manager_shutdown_in_the_middle_of_a_sleep() -> None:
    """jupyter_client interrupts, requests shutdown, and escalates to SIGTERM after 2.5 s."""
    with running_kernel() as (km, kc):
        sleep_id = kc.execute("sleep 30")
        wait_until_sleeping(kc, sleep_id)
        process = kernel_process(km)
        t0 = time.monotonic()
        km.shutdown_kernel()
        elapsed = time.monotonic() - t0
        assert elapsed < 2.4, f"shutdown_kernel() took {elapsed:.1f} s (jupyter_client escalated)"
        assert process.poll() == 0, f"the kernel exited with {process.poll()}"


def test_shutdown_request_on_shell_is_still_accepted() -> None:
    """Deprecated since 5.4 but sent by older clients (jupyter.md §6.6)."""
    with running_kernel() as (km, kc):
        msg = kc.session.msg("shutdown_request", {"restart": False})
        kc.shell_channel.send(msg)
        reply = shell_reply(kc, msg["header"]["msg_id"], timeout=5)
        assert reply["msg_type"] == "shutdown_reply" and reply["content"]["status"] == "ok", reply
        assert kernel_process(km).wait(timeout=5) == 0


def test_restart_gives_a_fresh_kernel(digits: Path) -> None:
    with running_kernel() as (km, kc):
        execute_ok(kc, f"load {digits}")
        old_session = shell_reply(kc, kc.kernel_info())["header"]["session"]
        km.restart_kernel()
        kc.wait_for_ready(timeout=15)
        info = shell_reply(kc, kc.kernel_info())
        assert info["header"]["session"] != old_session, "the session id must change on restart"
        reply, _ = execute_ok(kc, "echo fresh")
        assert reply["content"]["execution_count"] == 1, reply["content"]
        layers = shell_reply(kc, kc.execute("layers"))
        assert layers["content"].get("ename") == "UsageError", layers["content"]


# --- cursor positions --------------------------------------------------------------------------


def complete(kc, code: str, cursor_pos: int | None = None) -> dict:
    msg_id = kc.complete(code, cursor_pos)
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def applied(code: str, content: dict, match: str) -> str:
    return code[:content["cursor_start"]] + match + code[content["cursor_end"]:]


def check_types_metadata(code: str, content: dict) -> None:
    types = content["metadata"].get("_jupyter_types_experimental")
    assert isinstance(types, list) and types, f"no _jupyter_types_experimental in {content}"
    for entry in types:
        assert entry["text"] in content["matches"], entry
        assert 0 <= entry["start"] <= entry["end"] <= len(code), (
            f"{entry} is outside the code ({len(code)} code points)")
        own = code[:entry["start"]] + entry["text"] + code[entry["end"]:]
        assert own == applied(code, content, entry["text"]), (
            f"{entry} disagrees with cursor_start/end "
            f"{content['cursor_start']}/{content['cursor_end']}: {own!r}")


@pytest.fixture()
def unicode_models(tmp_path: Path) -> Path:
    for name in ("modèle.onnx", "😀digits.onnx"):
        shutil.copy(DIGITS, tmp_path / name)
    return tmp_path


def test_completion_positions_are_code_points(unicode_models: Path) -> None:
    with running_kernel(cwd=unicode_models) as (_km, kc):
        # A quoted path with an accent (2 UTF-8 bytes, 1 code point).
        code = 'load "modèle'
        content = complete(kc, code)
        assert content["matches"], f"{code!r}: no matches"
        assert content["cursor_end"] == len(code), (
            f"{code!r}: cursor_end {content['cursor_end']}, expected {len(code)} code points")
        for match in content["matches"]:
            assert "modèle.onnx" in applied(code, content, match), (
                f"{code!r}: match {match!r} at {content['cursor_start']}..{content['cursor_end']} "
                f"gives {applied(code, content, match)!r}")

        # A supplementary-plane character: 1 code point, 2 UTF-16 units, 4 UTF-8 bytes.
        code = "load 😀"
        content = complete(kc, code)
        assert content["cursor_end"] == len(code), (
            f"{code!r}: cursor_end {content['cursor_end']}, expected {len(code)} code points")
        completed = [applied(code, content, m) for m in content["matches"]]
        assert completed == ["load 😀digits.onnx"], (
            f"{code!r}: {content['matches']} at {content['cursor_start']}..{content['cursor_end']}")
        check_types_metadata(code, content)
        _, outputs = execute_ok(kc, completed[0])
        model = structured(results(outputs)[0])["model"]
        assert Path(model["path"]).name == "😀digits.onnx", model["path"]

        # Non-ASCII text before the line being completed, cursor at the end.
        code = "# 😀 modèle\nlo"
        content = complete(kc, code)
        assert "load" in content["matches"], content
        assert (content["cursor_start"], content["cursor_end"]) == (len(code) - 2, len(code)), (
            f"{code!r}: cursor_start/end {content['cursor_start']}/{content['cursor_end']}, "
            f"expected {len(code) - 2}/{len(code)}")
        assert applied(code, content, "load") == "# 😀 modèle\nload"
        check_types_metadata(code, content)

        # The cursor in the middle: cursor_pos is counted in code points too.
        head = "# 😀 modèle\nlo"
        code = head + "\n# é 😀"
        content = complete(kc, code, cursor_pos=len(head))
        assert "load" in content["matches"], content
        assert (content["cursor_start"], content["cursor_end"]) == (len(head) - 2, len(head)), (
            f"cursor_pos {len(head)}: cursor_start/end "
            f"{content['cursor_start']}/{content['cursor_end']}")


def test_inspect_positions_are_code_points() -> None:
    with running_kernel() as (_km, kc):
        code = "# 😀 modèle\nload x.onnx"
        cursor = code.index("load") + 2
        msg_id = kc.inspect(code, cursor_pos=cursor)
        reply = shell_reply(kc, msg_id)["content"]
        assert reply["status"] == "ok" and reply["found"] is True, (
            f"inspect at code point {cursor} (inside `load`): {reply}")
        assert "load" in reply["data"]["text/plain"]
