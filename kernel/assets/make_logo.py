"""Draws prunekit's kernel logo (logo-32x32.png, logo-64x64.png): a small network whose faded
edges were pruned. Standard library only; run it to regenerate the committed PNGs."""

import struct
import zlib
from pathlib import Path

ACCENT = (37, 99, 235)
FADED = (203, 213, 225)
BACKGROUND = (255, 255, 255, 0)


def png(pixels, size):
    rows = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def draw(size):
    pixels = [[BACKGROUND for _ in range(size)] for _ in range(size)]
    s = size / 32
    layers = [[(6, 8), (6, 16), (6, 24)], [(16, 6), (16, 16), (16, 26)], [(26, 12), (26, 20)]]
    kept = {((6, 8), (16, 6)), ((6, 16), (16, 16)), ((6, 24), (16, 16)), ((16, 6), (26, 12)),
            ((16, 16), (26, 12)), ((16, 16), (26, 20)), ((16, 26), (26, 20))}

    def line(a, b, colour, width):
        steps = int(4 * size)
        for i in range(steps + 1):
            t = i / steps
            x, y = (a[0] + (b[0] - a[0]) * t) * s, (a[1] + (b[1] - a[1]) * t) * s
            for dx in range(-width, width + 1):
                for dy in range(-width, width + 1):
                    px, py = int(round(x + dx * 0.5)), int(round(y + dy * 0.5))
                    if 0 <= px < size and 0 <= py < size:
                        pixels[py][px] = colour + (255,)

    for left, right in zip(layers, layers[1:]):
        for a in left:
            for b in right:
                if (a, b) not in kept:
                    line(a, b, FADED, 0)
    for a, b in sorted(kept):
        line(a, b, ACCENT, 1)
    r = 2.6 * s
    for layer in layers:
        for cx, cy in layer:
            for py in range(size):
                for px in range(size):
                    if (px + 0.5 - cx * s) ** 2 + (py + 0.5 - cy * s) ** 2 <= r * r:
                        pixels[py][px] = ACCENT + (255,)
    return png(pixels, size)


if __name__ == "__main__":
    here = Path(__file__).parent
    for size in (32, 64):
        (here / f"logo-{size}x{size}.png").write_bytes(draw(size))
        print(f"wrote logo-{size}x{size}.png")
