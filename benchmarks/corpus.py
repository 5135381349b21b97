"""The benchmark corpus: several releases of real projects, every platform wheel plus the sdist.

Downloaded once from PyPI (PEP 691 JSON through ``casstore.index.pypi``) into the git-ignored
``.cache/corpus/<name>/`` and re-verified by sha256 on reuse.

    python benchmarks/corpus.py --corpus small     # markupsafe + msgpack, ~40 MB
    python benchmarks/corpus.py --corpus medium    # the 8 projects, wheels for CPython 3.11/3.12, ~1.4 GB
    python benchmarks/corpus.py --corpus full      # 8 projects, ~2.7 GB
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from casstore.index import pypi as _pypi

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "corpus"

# (requirement, number of newest releases): every wheel and the sdist of each release.
CORPORA: dict[str, list[tuple[str, int]]] = {
    "small": [("markupsafe>=2.1,<3.1", 3), ("msgpack>=1.0.5,<1.2", 2)],
    "full": [
        ("numpy>=1.26,<1.27", 2),
        ("pillow>=10.3,<10.5", 2),
        ("cryptography>=42,<43", 2),
        ("markupsafe>=2.1,<3.1", 2),
        ("msgpack>=1.0.5,<1.2", 2),
        ("pydantic-core>=2.18,<2.19", 2),
        ("pyyaml>=6.0.1,<6.1", 2),
        ("ruff>=0.4,<0.5", 2),
    ],
}
# medium: full's releases and sdists, every platform, but only the wheels for CPython 3.11 and 3.12
# (plus abi3 and py3 wheels, which serve every version): ~1.4 GB, 334 wheels + 16 sdists, the
# composition of the 1.43 GB corpus. Files already in full's cache are hard-linked.
CORPORA["medium"] = CORPORA["full"]
_PY_TAGS = ("-cp311-", "-cp312-", "-abi3-", "-py3-none-", "-py2.py3-none-")


def _wanted(name: str, filename: str) -> bool:
    if name != "medium" or not filename.endswith(".whl"):
        return True
    return any(t in filename for t in _PY_TAGS)


def plan(name: str) -> list[_pypi.RemoteFile]:
    out: list[_pypi.RemoteFile] = []
    for spec, latest in CORPORA[name]:
        project = spec.split(">")[0].split("=")[0].split("<")[0]
        out += _pypi.select(_pypi.list_files(project), spec, latest=latest)
    return [f for f in out if _wanted(name, f.filename)]


def fetch(name: str, *, jobs: int = 6, quiet: bool = False) -> list[Path]:
    """Download (or reuse) every file of corpus ``name``; returns their paths, sorted."""
    files = plan(name)
    dest = CACHE / name
    total = sum(f.size or 0 for f in files)
    if not quiet:
        print(f"corpus {name}: {len(files)} files, {total / 1e6:.0f} MB -> {dest}", file=sys.stderr)
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:  # reuse another corpus's download (still re-verified by sha256 below)
        for other in CORPORA:
            src = CACHE / other / f.filename
            if other != name and src.exists() and not (dest / f.filename).exists():
                try:
                    os.link(src, dest / f.filename)
                except OSError:
                    continue  # another file system: download instead
                break
    with ThreadPoolExecutor(jobs) as pool:
        paths = list(pool.map(lambda f: _pypi.download(f, dest), files))
    return sorted(paths)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="small")
    ap.add_argument("--list", action="store_true", help="only print what would be downloaded")
    args = ap.parse_args(argv)
    if args.list:
        files = plan(args.corpus)
        for f in files:
            print(f"{f.size or 0:>12}  {f.filename}")
        print(f"{len(files)} files, {sum(f.size or 0 for f in files) / 1e6:.0f} MB")
        return 0
    paths = fetch(args.corpus)
    print(f"{len(paths)} files ready in {CACHE / args.corpus}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
