"""Structured pruning's removal, checked from outside prunekit: the pruned copies of the
hand-built fixtures (chain, residual, concat, reshape into Gemm, depthwise) and of the digits
CNN pass the ONNX checker with full shape inference, and ONNX Runtime runs them with the
original models' output shapes.

The Rust test `write_pruned_fixtures_for_the_onnx_checker` writes the models when
PRUNEKIT_STRUCTURED_OUT names a folder; this test runs it (the release test build `make test`
made, rebuilt by cargo when stale)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from prunekit_cli import REPO_ROOT

CASES = ["chain", "residual", "concat", "reshape_gemm", "depthwise", "digits_cnn"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("structured")
    env = dict(os.environ, PRUNEKIT_STRUCTURED_OUT=str(out))
    done = subprocess.run(
        ["cargo", "test", "--release", "-p", "prunekit-core", "--lib",
         "structured::remove::tests::write_pruned_fixtures_for_the_onnx_checker", "--", "--exact"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def feed(session: ort.InferenceSession, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = {}
    for i in session.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        inputs[i.name] = rng.random(shape, dtype=np.float32)
    return inputs


@pytest.mark.parametrize("name", CASES)
def test_pruned_model_passes_the_checker_and_runs_with_the_original_output_shapes(written, name):
    original, pruned = written / f"{name}.onnx", written / f"{name}.pruned.onnx"
    model = onnx.load(pruned)
    onnx.checker.check_model(model, full_check=True)
    # Strict shape inference agrees with every value-info shape the removal rewrote.
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)

    dense = ort.InferenceSession(original, providers=["CPUExecutionProvider"])
    small = ort.InferenceSession(pruned, providers=["CPUExecutionProvider"])
    inputs = feed(dense, batch=3)
    want = [o.shape for o in dense.run(None, inputs)]
    got = [o.shape for o in small.run(None, inputs)]
    assert got == want

    def weights(m):
        return sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    assert weights(model) < weights(onnx.load(original))
