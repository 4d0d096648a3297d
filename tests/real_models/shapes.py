"""Inputs for the detectors, made by the tests: filled rectangles and ellipses in random colours on
noise, RGB scaled to [0, 1], NCHW.  There are no labels: the tests compare the outputs of a written
model with the original's on the same images."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def images(count: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        image = Image.fromarray(noise, "RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 8))):
            x0, y0 = rng.integers(0, size * 3 // 4, 2)
            w, h = rng.integers(size // 10, size // 2, 2)
            box = (int(x0), int(y0), int(min(x0 + w, size - 1)), int(min(y0 + h, size - 1)))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
        out[i] = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return out


def relative_error(reference: np.ndarray, other: np.ndarray) -> float:
    """‖other − reference‖ / ‖reference‖ over every output value."""
    return float(np.linalg.norm(other - reference) / np.linalg.norm(reference))
