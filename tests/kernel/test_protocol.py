"""The prunekit kernel's answers through jupyter_client: what each command and request returns.

jupyter_kernel_test (test_conformance.py) checks the schema; these tests check the content the
spec promises: kernel_info on shell and control, the command outputs and their mime bundles, the
progress display of `sleep`, errors, completion, inspection, history and the execution counter.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest

from kernel_harness import (
    DIGITS,
    DIGITS_LAYERS,
    DIGITS_PARAMS,
    FIXTURES,
    RESULT_MIME,
    check_chart_bundle,
    check_table_bundle,
    control_reply,
    execute,
    execute_ok,
    iopub_until_idle,
    results,
    running_kernel,
    send_control,
    shell_reply,
    structured,
)

pytestmark = pytest.mark.timeout(40)


@pytest.fixture(scope="module")
def kernel():
    """One kernel for the tests that do not depend on a fresh state."""
    with running_kernel() as (km, kc):
        yield km, kc


@pytest.fixture(scope="module")
def loaded(kernel, digits):
    km, kc = kernel
    execute_ok(kc, f"load {digits}")
    return km, kc


def request(kc, method: str, *args, **kwargs) -> dict:
    msg_id = getattr(kc, method)(*args, **kwargs)
    reply = shell_reply(kc, msg_id)
    iopub_until_idle(kc, msg_id)
    return reply


def check_kernel_info(reply: dict, where: str) -> None:
    content = reply["content"]
    assert reply["msg_type"] == "kernel_info_reply", where
    assert content["status"] == "ok", where
    assert content["protocol_version"] == "5.5", f"{where}: {content['protocol_version']}"
    assert reply["header"]["version"] == "5.5", f"{where}: header version {reply['header']}"
    info = content["language_info"]
    assert info["name"] == "prunekit", where
    assert info["file_extension"] == ".prunekit", where
    assert info["mimetype"] == "text/x-prunekit", where
    assert isinstance(content["supported_features"], list), where
    assert "debugger" not in content["supported_features"], where
    assert content["implementation"], where
    assert isinstance(content.get("help_links", []), list), where


def test_kernel_info_on_shell_and_control(kernel) -> None:
    _, kc = kernel
    check_kernel_info(request(kc, "kernel_info"), "shell")
    msg_id = send_control(kc, "kernel_info_request")
    check_kernel_info(control_reply(kc, msg_id), "control")
    # busy/idle wrap control requests too, with the request as parent.
    states = [m["content"]["execution_state"] for m in iopub_until_idle(kc, msg_id)
              if m["msg_type"] == "status"]
    assert states == ["busy", "idle"], states


def test_layers_without_a_model_is_a_usage_error() -> None:
    with running_kernel() as (_km, kc):
        reply, outputs, _ = execute(kc, "layers")
        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "UsageError", reply["content"]
        assert [o["msg_type"] for o in outputs] == ["error"]


def test_load_answers_with_one_table_result(kernel, digits) -> None:
    _, kc = kernel
    reply, outputs = execute_ok(kc, f"load {digits}")
    assert [o["msg_type"] for o in outputs] == ["execute_result"], [o["msg_type"] for o in outputs]
    result = outputs[0]["content"]
    assert result["execution_count"] == reply["content"]["execution_count"]
    check_table_bundle(result["data"], "load")
    js = result["data"][RESULT_MIME]
    assert js["model"]["params"] == DIGITS_PARAMS
    assert js["model"]["n_layers"] == DIGITS_LAYERS == len(js["layers"])
    assert js["model"]["path"].endswith("digits_cnn.onnx")
    assert "digits_cnn.onnx" in result["data"]["text/plain"]


def test_load_sizes_are_kept_in_the_project_file(tmp_path) -> None:
    """--dim sizes a free dim; the next `load` of that model, in a new kernel, reuses the sizes
    (README: kept in PATH.prunekit.json, and the output says so)."""
    model = tmp_path / DIGITS.name
    shutil.copy(DIGITS, model)
    with running_kernel() as (_km, kc):
        _, outputs = execute_ok(kc, f"load {model}")
        base = structured(results(outputs)[0])["model"]
        _, outputs = execute_ok(kc, f"load {model} --dim batch=4")
        sized = structured(results(outputs)[0])["model"]
        assert sized["inputs"][0]["shape"] == [4, 1, 8, 8], sized["inputs"]
        assert sized["flops"] == 4 * base["flops"], (sized["flops"], base["flops"])
        reply, outputs, _ = execute(kc, f"load {model} --dim nosuchdim=2")
        assert reply["content"]["status"] == "error", reply["content"]
    with running_kernel() as (_km, kc):
        _, outputs = execute_ok(kc, f"load {model}")
        (result,) = results(outputs)
        assert structured(result)["model"]["inputs"][0]["shape"] == [4, 1, 8, 8]
        assert "--dim batch=4" in result["content"]["data"]["text/plain"], (
            "the output should say which sizes came from the project file")


def test_layers_answers_with_a_chart_then_a_table(loaded) -> None:
    _, kc = loaded
    _, outputs = execute_ok(kc, "layers")
    assert [o["msg_type"] for o in outputs] == ["display_data", "execute_result"], (
        [o["msg_type"] for o in outputs])
    chart = outputs[0]["content"]
    check_chart_bundle(chart["data"], chart["metadata"], "layers chart")
    assert "text/plain" in chart["data"]
    table = outputs[1]["content"]
    check_table_bundle(table["data"], "layers table")
    names = [layer["name"] for layer in table["data"][RESULT_MIME]["layers"]]
    assert len(names) == DIGITS_LAYERS and "/conv1/Conv_output_0" in names, names


@pytest.mark.parametrize("args, check", [
    ("--sort flops --top 5",
     lambda ls: len(ls) == 5 and [x["flops"] for x in ls] == sorted(
         (x["flops"] for x in ls), reverse=True)),
    ("--sort params",
     lambda ls: [x["params"] for x in ls] == sorted((x["params"] for x in ls), reverse=True)),
    ("--sort name", lambda ls: [x["name"] for x in ls] == sorted(x["name"] for x in ls)),
    ("--match Conv", lambda ls: ls and all(re.search("Conv", x["name"]) for x in ls)),
    ("--match ^/conv1/", lambda ls: [x["name"] for x in ls] == ["/conv1/Conv_output_0"]),
])
def test_layers_sort_top_match(loaded, args, check) -> None:
    _, kc = loaded
    _, outputs = execute_ok(kc, f"layers {args}")
    (table,) = results(outputs)
    layers = table["content"]["data"][RESULT_MIME]["layers"]
    assert check(layers), f"layers {args}: {[(x['name'], x['flops'], x['params']) for x in layers]}"


def test_settings(kernel) -> None:
    _, kc = kernel
    _, outputs = execute_ok(kc, "settings")
    (result,) = results(outputs)
    data = result["content"]["data"]
    check_table_bundle(data, "settings")
    lines = data["text/plain"].splitlines()
    assert any(line.startswith("threads = ") for line in lines), lines
    assert any(line.startswith("seed = ") for line in lines), lines

    execute_ok(kc, "settings seed=7")
    _, outputs = execute_ok(kc, "settings seed")
    assert results(outputs)[0]["content"]["data"]["text/plain"] == "seed = 7"
    execute_ok(kc, "settings seed=0")

    reply, outputs, _ = execute(kc, "settings nonsense=1")
    assert reply["content"]["status"] == "error", reply["content"]
    assert [o["msg_type"] for o in outputs] == ["error"]

    # The training settings an optimization's schedule is made from.
    _, outputs = execute_ok(kc, "settings optimizer=adam epochs=90 lr=0.1:0.001")
    data = results(outputs)[0]["content"]["data"][RESULT_MIME]
    assert (data["optimizer"], data["epochs"], data["init_lr"], data["final_lr"]) == ("adam", 90, 0.1, 0.001)
    for bad in ("lr=0.1:0.5", "epochs=1", "optimizer=lbfgs"):
        reply, outputs, _ = execute(kc, f"settings {bad}")
        assert reply["content"]["status"] == "error", (bad, reply["content"])
        assert bad in outputs[0]["content"]["evalue"], outputs[0]["content"]["evalue"]
    execute_ok(kc, "settings optimizer=sgd")


@pytest.mark.parametrize("code, needle", [("help", "load"), ("help layers", "--sort")])
def test_help(kernel, code, needle) -> None:
    _, kc = kernel
    _, outputs = execute_ok(kc, code)
    (result,) = results(outputs)
    assert needle in result["content"]["data"]["text/plain"]


def test_comments_and_blank_lines_run_nothing(kernel) -> None:
    _, kc = kernel
    _, outputs = execute_ok(kc, "# nothing here\n\n   \n")
    assert outputs == []
    _, outputs = execute_ok(kc, "echo one  \n# between\necho two")
    assert "".join(o["content"]["text"] for o in outputs) == "one\ntwo\n"


def test_errors_are_one_error_output() -> None:
    with running_kernel() as (_km, kc):
        reply, outputs, _ = execute(kc, "load nope.onnx")
        content = reply["content"]
        assert content["status"] == "error"
        assert content["ename"] == "IoError", content
        assert "nope.onnx" in content["evalue"], content
        assert isinstance(content["traceback"], list)
        assert all(isinstance(line, str) for line in content["traceback"])
        err = [o["content"] for o in outputs]
        assert [o["msg_type"] for o in outputs] == ["error"]
        assert (err[0]["ename"], err[0]["evalue"]) == (content["ename"], content["evalue"])

        bad_model = FIXTURES / "digits_test.npz"  # exists, not an ONNX model
        reply, outputs, _ = execute(kc, f"load {bad_model}")
        assert reply["content"]["ename"] == "ModelError", reply["content"]

        reply, outputs, _ = execute(kc, "frobnicate now")
        assert reply["content"]["status"] == "error", reply["content"]
        assert [o["msg_type"] for o in outputs] == ["error"]


def test_sleep_shows_one_progress_display_updated_in_place(kernel) -> None:
    _, kc = kernel
    t0 = time.monotonic()
    reply, outputs, _ = execute(kc, "sleep 1")
    elapsed = time.monotonic() - t0
    assert reply["content"]["status"] == "ok", reply["content"]
    assert elapsed >= 1.0, elapsed
    starts = [o for o in outputs if o["msg_type"] == "display_data"]
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert len(starts) == 1, [o["msg_type"] for o in outputs]
    display_id = starts[0]["content"]["transient"]["display_id"]
    assert display_id
    assert len(updates) >= 2, f"{len(updates)} progress updates in a 1 s sleep"
    for update in updates:
        assert update["content"]["transient"]["display_id"] == display_id
        assert "text/plain" in update["content"]["data"]


def test_silent_execution_and_the_counter(kernel) -> None:
    _, kc = kernel
    first, _ = execute_ok(kc, "echo counted")
    count = first["content"]["execution_count"]

    msg_id = kc.execute("echo quiet", silent=True)
    reply = shell_reply(kc, msg_id)
    iopub = iopub_until_idle(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    assert [m["msg_type"] for m in iopub] == ["status", "status"], [m["msg_type"] for m in iopub]

    unstored, outputs = execute_ok(kc, "echo not stored", store_history=False)
    assert outputs, "store_history=False still shows outputs"

    after, _ = execute_ok(kc, "echo counted again")
    assert after["content"]["execution_count"] == count + 1, (
        f"silent or store_history=False cells moved the counter: {count} -> "
        f"{after['content']['execution_count']}")
    assert after["content"]["user_expressions"] == {}
    assert after["content"]["payload"] == []


def test_completion_of_flags_paths_and_layer_names(loaded) -> None:
    _, kc = loaded
    reply = request(kc, "complete", "layers --")["content"]
    assert {"--sort", "--top", "--match"} <= set(reply["matches"]), reply["matches"]
    assert "_jupyter_types_experimental" in reply["metadata"], reply["metadata"]

    code = f"load {FIXTURES}/digits_c"
    reply = request(kc, "complete", code)["content"]
    completed = {code[:reply["cursor_start"]] + m + code[reply["cursor_end"]:]
                 for m in reply["matches"]}
    assert f"load {DIGITS}" in completed, reply
    assert "_jupyter_types_experimental" in reply["metadata"], reply["metadata"]

    code = "layers --match /conv"
    reply = request(kc, "complete", code)["content"]
    completed = {code[:reply["cursor_start"]] + m + code[reply["cursor_end"]:]
                 for m in reply["matches"]}
    assert {"layers --match /conv1/Conv_output_0", "layers --match /conv2/Conv_output_0"
            } <= completed, reply


def test_inspect_commands_and_layers(loaded) -> None:
    _, kc = loaded
    reply = request(kc, "inspect", "layers --sort flops", cursor_pos=3)["content"]
    assert reply["status"] == "ok" and reply["found"] is True, reply
    assert "--sort" in reply["data"]["text/plain"]

    code = "layers --match /conv1/Conv_output_0"
    reply = request(kc, "inspect", code)["content"]
    assert reply["found"] is True, reply
    text = reply["data"]["text/plain"]
    assert "/conv1/Conv_output_0" in text and "80" in text, text  # conv1 has 80 params

    reply = request(kc, "inspect", "# just a comment")["content"]
    assert reply["status"] == "ok" and reply["found"] is False, reply


def test_is_complete(kernel) -> None:
    _, kc = kernel
    for code, status in [("load x.onnx", "complete"), ("", "complete"), ("# note", "complete"),
                         ("frobnicate", "invalid"), ("echo a\nfrobnicate", "invalid")]:
        reply = request(kc, "is_complete", code)["content"]
        assert reply["status"] == status, f"{code!r}: {reply}"


def test_history(kernel) -> None:
    _, kc = kernel
    execute_ok(kc, "echo history one")
    execute_ok(kc, "echo history two")
    tail = request(kc, "history", hist_access_type="tail", n=2, output=False, raw=True)
    entries = tail["content"]["history"]
    assert [e[2] for e in entries] == ["echo history one", "echo history two"], entries
    session, line = entries[0][0], entries[0][1]

    rng = request(kc, "history", hist_access_type="range", session=session, start=line,
                  stop=line + 2, output=False, raw=True)["content"]["history"]
    assert [e[2] for e in rng] == ["echo history one", "echo history two"], rng

    found = request(kc, "history", hist_access_type="search", pattern="echo history t?o",
                    output=False, raw=True)["content"]["history"]
    assert [e[2] for e in found] == ["echo history two"], found


def test_comm_info_and_unknown_comm(kernel) -> None:
    _, kc = kernel
    reply = request(kc, "comm_info")["content"]
    assert reply["status"] == "ok" and reply["comms"] == {}, reply

    comm_id = "0123456789abcdef"
    msg = kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "no.such.target",
                                       "data": {}})
    kc.shell_channel.send(msg)
    iopub = iopub_until_idle(kc, msg["header"]["msg_id"])
    closes = [m for m in iopub if m["msg_type"] == "comm_close"]
    assert [m["content"]["comm_id"] for m in closes] == [comm_id], [m["msg_type"] for m in iopub]
    execute_ok(kc, "echo alive")
