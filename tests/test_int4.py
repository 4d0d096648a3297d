"""Int4 weight-only quantization end to end (`export model --quantize int4`), checked with tools
that are not prunekit's:

* the packed weights, scales and zero points equal a numpy block quantization written from the
  definition (tests/int4_reference.py), padding included (K = 192 in blocks of 128);
* ONNX Runtime runs the written MatMulNBits model, and its output equals the float model computed
  by numpy with the dequantized weights;
* beside onnxruntime's own MatMulNBitsQuantizer on the same model and samples, prunekit's output
  error is no larger (RTN against its default config, GPTQ against its GPTQ config);
* GPTQ's output error is below round-to-nearest's on held-out samples;
* a Gemm with transB and a bias becomes one MatMulNBits with the bias as its input;
* bad flags get one sentence.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from int4_reference import (block_quantize, dequantize, make_model, nmse, ort_quantize, pack, run,
                            samples)
from prunekit_cli import refused, results_in, run_in

D_MODEL, D_FF, SEQ = 192, 768, 16
LOAD = "load mlp.onnx --dim batch=1 --dim seq=16"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("int4")
    weights = make_model(folder / "mlp.onnx", D_MODEL, D_FF)
    np.savez(folder / "cal.npz", x=samples(64, SEQ, D_MODEL, seed=1))
    return folder, weights, samples(16, SEQ, D_MODEL, seed=2)


def initializers(path):
    model = onnx.load(str(path))
    return model, {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def nbits_nodes(model):
    nodes = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert all(n.domain == "com.microsoft" for n in nodes)
    return nodes


def attrs(node):
    return {a.name: a.i for a in node.attribute}


def reference_forward(w, x):
    """The MLP block in numpy, with whatever weights `w` holds."""
    h = x @ w["proj.weight"] + w["proj.bias"]
    u = h @ w["up.weight"]
    gelu = 0.5 * u * (1 + np.vectorize(math.erf)(u / np.sqrt(2)))
    return x + gelu @ w["down.weight"]


@pytest.mark.parametrize("block,symmetric", [(32, False), (64, True), (128, False), (128, True)])
def test_packed_bytes_match_numpy_and_onnx_runtime_runs_the_dequantized_product(
        workdir, block, symmetric):
    folder, w, x = workdir
    out = f"rtn_{block}_{int(symmetric)}.onnx"
    [_, written] = results_in(
        folder, LOAD,
        f"export model {out} --quantize int4 --block {block}" + (" --symmetric" * symmetric))
    q = written["quantization"]
    assert q["mode"] == "int4" and len(q["layers"]) == 3 and q["float"] == []
    assert q["int4"] == {"block": block, "rounding": "rtn", "symmetric": symmetric}
    model, inits = initializers(folder / out)
    assert any(o.domain == "com.microsoft" for o in model.opset_import)
    assert not any(n.op_type == "MatMul" for n in model.graph.node)
    dequantized = dict(w)
    for node in nbits_nodes(model):
        name = next(k for k in w if node.input[1].startswith(k))
        k, n = w[name].shape
        assert attrs(node) == {"K": k, "N": n, "bits": 4, "block_size": block}
        codes, scales, zero = block_quantize(w[name], block, symmetric)
        b, z = pack(codes, zero, symmetric)
        np.testing.assert_array_equal(inits[node.input[1]], b, err_msg=name)
        np.testing.assert_array_equal(inits[node.input[2]], scales.reshape(-1), err_msg=name)
        if symmetric:
            assert len(node.input) == 3, node.input
        else:
            np.testing.assert_array_equal(inits[node.input[3]], z, err_msg=name)
        dequantized[name] = dequantize(codes, scales, zero, k)
    got = run(folder / out, x)
    want = reference_forward(dequantized, x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    # And it is int4, not float: the error from the float model is there, and bounded.
    error = nmse(got, reference_forward(w, x.astype(np.float64)))
    assert 1e-6 < error < 0.2, error


@pytest.mark.parametrize("block,symmetric", [(32, False), (128, True)])
def test_rtn_error_is_no_larger_than_onnxruntimes_quantizer(workdir, block, symmetric):
    folder, _, x = workdir
    flags = f"--block {block}" + (" --symmetric" * symmetric)
    run_in(folder, LOAD, f"export model pk.onnx --quantize int4 {flags}")
    ort_quantize(folder / "mlp.onnx", folder / "ort.onnx", block, symmetric)
    assert len(nbits_nodes(onnx.load(str(folder / "ort.onnx")))) == 3
    # The same definition: scales and zero points equal, codes equal but where a value lies
    # within a float32 rounding of a tie (onnxruntime multiplies by the scale's reciprocal,
    # prunekit divides), which either way of rounding is as near to.
    _, ours_inits = initializers(folder / "pk.onnx")
    _, theirs_inits = initializers(folder / "ort.onnx")
    for name in ("proj.weight", "up.weight", "down.weight"):
        ours_b = next(v for k, v in ours_inits.items() if k.startswith(name) and v.ndim == 3)
        theirs_b = theirs_inits[f"{name}_Q4"]
        ours_s = next(v for k, v in ours_inits.items() if k.startswith(name) and "scales" in k)
        np.testing.assert_array_equal(ours_s, theirs_inits[f"{name}_scales"].reshape(-1))
        k = onnx.numpy_helper.to_array(next(
            t for t in onnx.load(str(folder / "mlp.onnx")).graph.initializer if t.name == name)
        ).shape[0]
        # Compare real codes only: the padding past K is not read.
        kept = ((np.arange(ours_b.shape[1] * ours_b.shape[2] * 2) < k)
                .reshape(ours_b.shape[1], -1))
        unpack = lambda b: np.stack([b & 15, b >> 4], -1).reshape(b.shape[0], -1)  # noqa: E731
        same = (unpack(ours_b) == unpack(theirs_b))[:, kept.reshape(-1)]
        assert same.mean() > 0.9999, (name, same.mean())
    want = run(folder / "mlp.onnx", x)
    ours, theirs = nmse(run(folder / "pk.onnx", x), want), nmse(run(folder / "ort.onnx", x), want)
    assert ours <= theirs * 1.001, (ours, theirs)


def test_gptq_beats_rtn_and_onnxruntimes_gptq_on_held_out_samples(workdir):
    folder, _, x = workdir
    run_in(folder, LOAD, "export model rtn.onnx --quantize int4 --block 128")
    [_, written] = results_in(folder, LOAD, "export model gptq.onnx --quantize int4 --block 128 "
                                            "--rounding gptq --calibration-data cal.npz")
    assert written["quantization"]["int4"]["rounding"] == "gptq"
    assert written["quantization"]["calibration"]["samples"] == 64
    cal = np.load(folder / "cal.npz")["x"]
    ort_quantize(folder / "mlp.onnx", folder / "ort_gptq.onnx", 128, False, calibration=cal)
    want = run(folder / "mlp.onnx", x)
    rtn, gptq = nmse(run(folder / "rtn.onnx", x), want), nmse(run(folder / "gptq.onnx", x), want)
    theirs = nmse(run(folder / "ort_gptq.onnx", x), want)
    assert gptq < 0.5 * rtn, (gptq, rtn)
    assert gptq <= theirs, (gptq, theirs)


def test_a_gemm_with_trans_b_and_bias_becomes_one_matmulnbits_with_its_bias(tmp_path):
    rng = np.random.default_rng(3)
    k, n = 80, 48  # K not a multiple of 32: the last block is padded
    w_nk = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")], "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, n])],
        [numpy_helper.from_array(w_nk, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "gemm.onnx"))
    run_in(tmp_path, "load gemm.onnx", "export model q.onnx --quantize int4")
    q, inits = initializers(tmp_path / "q.onnx")
    [node] = nbits_nodes(q)
    assert [n.op_type for n in q.graph.node] == ["MatMulNBits"]
    assert node.input[5] == "b" and attrs(node)["K"] == k
    codes, scales, zero = block_quantize(w_nk.T, 32, False)
    np.testing.assert_array_equal(inits[node.input[1]], pack(codes, zero, False)[0])
    x = rng.standard_normal((4, k)).astype(np.float32)
    import onnxruntime as ort
    got = ort.InferenceSession(str(tmp_path / "q.onnx"),
                               providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want = x.astype(np.float64) @ dequantize(codes, scales, zero, k) + bias
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("command,words", [
    ("export model q.onnx --block 64", ["--block", "--quantize int4"]),
    ("export model q.onnx --quantize int4 --block 48", ["48", "32, 64 or 128"]),
    ("export model q.onnx --quantize int4 --rounding awq", ["awq", "rtn", "gptq"]),
    ("export model q.onnx --quantize int8", ["int8", "int4"]),
])
def test_bad_int4_flags_get_one_sentence(workdir, command, words):
    folder, _, _ = workdir
    refused(run_in(folder, LOAD, command, ok=False), *words)


def test_benchmark_times_the_int4_model_and_the_recipe_says_int4(workdir, tmp_path):
    # A folder of its own: the optimization it makes would prune the other tests' exports.
    folder = tmp_path
    shutil.copy(workdir[0] / "mlp.onnx", folder / "mlp.onnx")
    [_, _, recipe, bench] = results_in(
        folder, LOAD, "optimize --quantize int4 --sparsity 0.5", "export recipe r.yaml",
        "benchmark --quantize int4 --iterations 3 --warmup 1")
    text = (folder / "r.yaml").read_text()
    assert "Int4 weight-only quantization" in text and "QuantizationModifier\n" not in text
    assert recipe["quantization"] == "int4"
    assert bench["name"] == "int4"
    assert {r["model"] for r in bench["runs"]} >= {"dense", "quantized"}
    assert any("MatMulNBits" in n for n in bench["notes"])
    # The plan's int4 goes into the written model without --quantize.
    [_, written] = results_in(folder, LOAD, "export model pruned_int4.onnx")
    assert written["quantization"]["mode"] == "int4"
    model = onnx.load(str(folder / "pruned_int4.onnx"))
    assert len(nbits_nodes(model)) == 3


def test_the_quantization_loss_profile_measures_each_layer_in_int4(workdir):
    folder, _, _ = workdir
    [_, profile] = results_in(folder, LOAD, "profile loss --quantization --int4 --name int4")
    q = profile["quantization"]
    assert q["mode"] == "int4"
    assert sorted(l["name"] for l in q["layers"]) == ["down", "proj", "up"]
    # Each layer alone changes the outputs less than all of them together.
    assert all(0 < l["value"] < q["model"]["value"] for l in q["layers"])
    refused(run_in(folder, LOAD, "profile loss --quantization --int4 --dynamic", ok=False),
            "--dynamic", "int4")
