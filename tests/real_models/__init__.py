"""Trained ONNX models that packages in the Python registry ship inside their wheels, as the tests
and benchmarks use them: which wheel each comes from (exact versions), the SHA-256 of each file
taken out of it, and where `make setup-models` (tests/real_models/fetch.py) keeps them, a cache
outside the clone.  Nothing here downloads: a test that finds the cache missing fails, saying to
run `make setup-models`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Beside the code-server cache of `make setup-vscode`; PRUNEKIT_CACHE moves both.
CACHE = Path(os.environ.get("PRUNEKIT_CACHE", Path.home() / ".cache" / "prunekit"))
WHEELS = CACHE / "wheels"
MODELS = CACHE / "models"

MISSING = "the real models are not in {where}: run `make setup-models` first"


@dataclass(frozen=True)
class Wheel:
    package: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"


DDDDOCR = Wheel("ddddocr", "1.6.1")
NUDENET = Wheel("nudenet", "3.4.2")
RAPIDOCR = Wheel("rapidocr-onnxruntime", "1.4.4")


@dataclass(frozen=True)
class ShippedFile:
    """One file taken out of a wheel and kept under MODELS as `name`."""
    wheel: Wheel
    member: str
    name: str
    sha256: str


FILES = [
    # ddddocr's captcha OCR: a CNN and a bidirectional LSTM with a CTC head over 8,210 characters
    # (PyTorch 1.9, opset 12, weights in initializers); ddddocr's `beta` model.
    ShippedFile(DDDDOCR, "ddddocr/common.onnx", "ddddocr-common.onnx",
                "33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8"),
    # ddddocr's default OCR model: the same kind of network already made int8 by onnx's dynamic
    # quantizer (ConvInteger, DynamicQuantizeLSTM, MatMulInteger): nothing float is left to prune.
    ShippedFile(DDDDOCR, "ddddocr/common_old.onnx", "ddddocr-common_old.onnx",
                "b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68"),
    # ddddocr's text detector: a YOLOv5-style network at 416x416 (PyTorch 1.9, opset 11).
    ShippedFile(DDDDOCR, "ddddocr/common_det.onnx", "ddddocr-common_det.onnx",
                "6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6"),
    # The two character sets (Python lists) that map the OCR models' output indices to text.
    ShippedFile(DDDDOCR, "ddddocr/charsets.py", "ddddocr-charsets.py",
                "ae99cf71e1dd738d50d2c2d2bf8544c16a7d23452e9b64346d3ac4dbff83510f"),
    # NudeNet's detector: YOLOv8n at 320x320 with free batch, height and width (PyTorch 2.3, opset 17).
    ShippedFile(NUDENET, "nudenet/320n.onnx", "nudenet-320n.onnx",
                "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"),
    # PaddleOCR's PP-OCRv4 text recognizer as Paddle's exporter writes it: opset 12, every weight
    # in a Constant node, no initializers; its character list is in the model's metadata.
    ShippedFile(RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                "ppocrv4-rec.onnx",
                "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
]

WHEEL_LIST = [DDDDOCR, NUDENET, RAPIDOCR]


def path(name: str) -> Path:
    """The cached file `name` (one of FILES' names)."""
    assert any(f.name == name for f in FILES), name
    return MODELS / name


def missing() -> list[str]:
    """The FILES not in the cache (not checked against their hashes: fetch.py does that)."""
    return [f.name for f in FILES if not (MODELS / f.name).is_file()]
