"""What the int8 benches on real OCR models (real_models.py, calibration.py) share: the models and
how prunekit loads them, the rendered text they are measured on and calibrated with
(tests/real_models/ocr.py), the temporary folder each model is copied into with its calibration
samples as cal.npz, prunekit's kernel, and the figures each written model is measured by.  The
peer, onnxruntime's quantize_static, is set up in tests/real_models/peer.py, as the tests use it."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import real_models  # noqa: E402
from real_models import ocr, peer  # noqa: E402,F401  (peer: for the benches)

KERNEL = REPO / "target" / "release" / "prunekit-kernel"
# The quantizer's calibration sessions warn on ddddocr's declared output shape at every run.
ort.set_default_logger_severity(3)
# Other rendered strings than the measured ones (seed 2 against seed 1).
CALIBRATION_SAMPLES = 32

# (model, its load flags for prunekit, the batch the eval and calibration run in)
MODELS: list[tuple[Callable[[], ocr.OcrModel], str, int]] = [
    (ocr.ddddocr_common, "--dim image_width=192", 1),
    (ocr.ppocr_rec, "--input x=8,3,48,192", 8),
]


def require() -> None:
    """Exits with one sentence when the models or the kernel are missing."""
    if real_models.missing():
        sys.exit(real_models.MISSING.format(where=real_models.MODELS))
    if not KERNEL.is_file():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first")


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # ddddocr's declared output shape is wrong; ORT says so each run
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def kernel(folder: Path, *commands: str, timeout: float = 1800) -> dict:
    """The last JSON result of `prunekit-kernel run --format json COMMANDS` in folder; a failure
    raises RuntimeError with prunekit's sentence."""
    proc = subprocess.run([str(KERNEL), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().removeprefix("prunekit: "))
    return json.loads(proc.stdout.splitlines()[-1])


@dataclass
class Bench:
    """One OCR model set up in a temporary folder: `local` (its copy) and cal.npz beside it."""
    model: ocr.OcrModel
    load: str
    batch: int
    texts: list[str]
    x: np.ndarray
    calibration: np.ndarray
    folder: Path
    reference: np.ndarray  # the float model's class scores over x

    @property
    def local(self) -> Path:
        return self.folder / self.model.file

    @property
    def loaded(self) -> str:
        return f"load {self.model.file} {self.load}"

    def scores(self, path: Path) -> np.ndarray:
        s = session(path)
        # ddddocr writes (steps, batch, classes), PaddleOCR (batch, steps, classes) (ocr.decode).
        batch_axis = 1 if self.model.input == "input1" else 0
        return np.concatenate([s.run(None, {self.model.input: self.x[i:i + self.batch]})[0]
                               for i in range(0, len(self.x), self.batch)], axis=batch_axis)

    def measure(self, path: Path) -> dict:
        """CER on the rendered strings, and how close the class scores stay to float's: the share
        of positions whose best class is kept (`kept`) and the normalized MSE (`nmse`)."""
        y = self.scores(path)
        r = self.reference
        texts = ocr.decode(self.model, y)
        return {"cer": ocr.cer(self.texts, texts),
                "kept": float((y.argmax(-1) == r.argmax(-1)).mean()),
                "nmse": float(((y - r) ** 2).sum() / (r ** 2).sum())}


def benches(samples: int) -> Iterator[Bench]:
    """Each model of MODELS set up in turn (its folder is removed when the next one starts):
    `samples` rendered strings (seed 1) to measure on, and CALIBRATION_SAMPLES others (seed 2) in
    cal.npz."""
    for make, load, batch in MODELS:
        model = make()
        texts = ocr.labels(model, samples, seed=1)
        calibration = ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / model.file).write_bytes(real_models.path(model.file).read_bytes())
            np.savez(folder / "cal.npz", **{model.input: calibration})
            bench = Bench(model, load, batch, texts, ocr.images(model, texts), calibration, folder,
                          np.empty(0))
            bench.reference = bench.scores(bench.local)
            yield bench


def figures(m: dict) -> str:
    return f"CER {m['cer']:.2%}, best class kept at {m['kept']:.2%} of positions, nmse {m['nmse']:.4f}"
