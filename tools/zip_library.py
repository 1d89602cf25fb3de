"""Zip ``lib/lakerec`` (with its ``base.yaml``) for ``spark-submit --py-files``.

Usage: ``python tools/zip_library.py dist/lakerec.zip`` (``make dist`` calls it).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"


def zip_library(out: Path) -> list[str]:
    """Write ``out`` holding ``lakerec/...`` (no byte code); return the names written."""
    files = [p for p in sorted((LIB / "lakerec").rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(LIB).as_posix())
    return [path.relative_to(LIB).as_posix() for path in files]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/zip_library.py OUT.zip")
    names = zip_library(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: {len(names)} files of lib/lakerec")
