"""Text the OCR tests make themselves: strings drawn from the model's character set with a fixed
seed, rendered with DejaVu Sans (the font prunekit's charts ship) in the size and colour format the
model reads, the string being the label; the models' CTC output decoded to text with the character
set their package ships, and the character error rate (CER) against the labels."""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from PIL import Image, ImageDraw, ImageFont

from . import path

FONT = Path(__file__).resolve().parents[2] / "core" / "src" / "chart" / "DejaVuSans.ttf"

# Lower-case letters and digits, less those no reader tells apart by shape alone in DejaVu Sans
# (0/o, 1/l/i, j, and c, s, v, w, x, z, whose capitals differ only in size), so an error is the
# model's and not the label's.
ALPHABET = "abdefghkmnpqrtuy23456789"


@dataclass(frozen=True)
class OcrModel:
    """How one OCR model reads text: its input, its image size and colours, its characters."""
    file: str
    input: str
    channels: int
    height: int
    width: int
    font_size: int
    # ddddocr scales to [0, 1]; PaddleOCR to [-1, 1].
    centred: bool
    charset: tuple[str, ...]

    def load_args(self, batch: int) -> str:
        return f"--input {self.input}={batch},{self.channels},{self.height},{self.width}"


def ddddocr_charset(name: str) -> tuple[str, ...]:
    """One of the lists in ddddocr's charsets.py (read as data, never imported): index i of the
    model's output is character i, index 0 the CTC blank (the empty string)."""
    tree = ast.parse(path("ddddocr-charsets.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == name:
            return tuple(ast.literal_eval(node.value))
    raise KeyError(name)


def paddle_charset(model: Path) -> tuple[str, ...]:
    """PaddleOCR's characters, one a line in the model's `character` metadata, with the CTC blank
    put first and a space last, as rapidocr's decoder does."""
    meta = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    return ("", *meta["character"].splitlines(), " ")


def ddddocr_common() -> OcrModel:
    # ddddocr's `beta` model reads CHARSET_BETA; grey, 64 pixels high, any width.
    return OcrModel("ddddocr-common.onnx", "input1", 1, 64, 192, 40, False,
                    ddddocr_charset("CHARSET_BETA"))


def ddddocr_common_old() -> OcrModel:
    # ddddocr's default model (already int8) reads CHARSET_OLD, in the same format.
    return OcrModel("ddddocr-common_old.onnx", "input1", 1, 64, 192, 40, False,
                    ddddocr_charset("CHARSET_OLD"))


def ppocr_rec() -> OcrModel:
    # RGB, 48 pixels high (rapidocr's rec_img_shape), any width.
    return OcrModel("ppocrv4-rec.onnx", "x", 3, 48, 192, 30, True,
                    paddle_charset(path("ppocrv4-rec.onnx")))


def labels(model: OcrModel, count: int, seed: int) -> list[str]:
    usable = [c for c in ALPHABET if c in model.charset]
    rng = random.Random(seed)
    return ["".join(rng.choice(usable) for _ in range(rng.randint(4, 6))) for _ in range(count)]


def render(model: OcrModel, text: str) -> np.ndarray:
    """Black text on white, left-aligned and vertically centred, as one CHW float32 image."""
    font = ImageFont.truetype(str(FONT), model.font_size)
    image = Image.new("L", (model.width, model.height), 255)
    ImageDraw.Draw(image).text((8, model.height // 2), text, fill=0, font=font, anchor="lm")
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if model.centred:
        pixels = (pixels - 0.5) / 0.5
    return np.repeat(pixels[None], model.channels, axis=0)


def images(model: OcrModel, texts: list[str]) -> np.ndarray:
    return np.stack([render(model, t) for t in texts])


def decode(model: OcrModel, scores: np.ndarray) -> list[str]:
    """Greedy CTC: the best index per step, repeats merged, blanks dropped.  ddddocr's model writes
    (steps, batch, classes), PaddleOCR's (batch, steps, classes)."""
    if scores.shape[-1] != len(model.charset):
        raise ValueError(f"{scores.shape[-1]} classes, {len(model.charset)} characters")
    best = scores.argmax(-1)
    if model.input == "input1":
        best = best.T
    texts = []
    for row in best:
        kept = [int(k) for i, k in enumerate(row) if k != 0 and (i == 0 or k != row[i - 1])]
        texts.append("".join(model.charset[k] for k in kept).strip())
    return texts


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]


def cer(truth: list[str], read: list[str]) -> float:
    return sum(edit_distance(t, r) for t, r in zip(truth, read, strict=True)) / sum(map(len, truth))


def read(session, model: OcrModel, x: np.ndarray, batch: int) -> list[str]:
    """Run an onnxruntime session over x in batches of `batch` and decode."""
    texts = []
    for start in range(0, len(x), batch):
        [scores] = session.run(None, {model.input: x[start:start + batch]})
        texts += decode(model, scores)
    return texts
