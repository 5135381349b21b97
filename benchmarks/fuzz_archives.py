"""Coverage-guided fuzzing (atheris / libFuzzer) of every reader of untrusted archives and names.

Targets (``--target``, default: all, the time split evenly):

- ``split``: :class:`casstore.format.split.Splitter` on arbitrary bytes as a zip and as a gzip+tar. Either
  the file is not split (``NotSplittable``: stored whole) or the recipe renders back to the input
  bit-exactly, and no blob is larger than the decompression bound allows.
- ``put``: ``Store.put`` of arbitrary bytes as a wheel and as an sdist, then the index's METADATA
  extraction (PEP 658) and a read back: only ``CasstoreError`` may come out, and bytes read back equal.
- ``recipe``: ``casstore.format.recipe.decode`` on arbitrary bytes: a recipe or ``RecipeError``.
- ``names``: ``parse_filename`` on arbitrary text: a ``DistName`` or ``InvalidFilename``; a parsed
  name never contains a path separator, NUL or a leading dot.
- ``sdist``: the verifier's ``extract_sdist`` on arbitrary bytes as .tar.gz and .zip: an unpacked
  tree or ``InvalidSdist``; nothing appears outside the destination.

Any other exception, a libFuzzer timeout (``-timeout``, default 20 s per input) or an RSS above
``-rss_limit_mb`` (default 1024) is a finding: libFuzzer stops and writes the input as
``crash-*``/``timeout-*``/``oom-*`` into ``--artifacts``. Seeds are small valid wheels and sdists and
hostile ones (traversal, links, bombs) made here. Run with ``nice -n 10``::

    python benchmarks/fuzz_archives.py --seconds 600 [--target split] [--artifacts DIR]

Prints one JSON line per target: seconds, executions, coverage, findings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# zipfile, tarfile and gzip are imported inside functions: the fuzzing child imports them under
# atheris' instrumentation so that coverage guides it through them too.

TARGETS = ("split", "put", "recipe", "names", "sdist")


# -- seeds ------------------------------------------------------------------------------------------

def _zip(members: dict[str, bytes], method: int = 8) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, method)
    return buf.getvalue()


def _targz(members: list[Any]) -> bytes:
    import gzip
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                t.addfile(info, io.BytesIO(m[1]))
    return gzip.compress(raw.getvalue(), mtime=0)


def seeds() -> list[bytes]:
    import tarfile

    meta = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
    link = tarfile.TarInfo("demo-1.0/link")
    link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    hard = tarfile.TarInfo("demo-1.0/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    return [
        _zip({"demo/__init__.py": b"VALUE = 1\n" * 20, "demo-1.0.dist-info/METADATA": meta,
              "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n"}),
        _zip({"demo-1.0/setup.py": b"print('hi')\n" * 10, "../evil": b"x"}, 0),
        _zip({"demo-1.0/zeros": b"\0" * 200_000}),
        _targz([("demo-1.0/setup.py", b"print('hi')\n" * 50), ("demo-1.0/PKG-INFO", meta), link, hard]),
        _targz([("demo-1.0/" + "a" * 300, b"long name")]),
    ]


# -- targets ----------------------------------------------------------------------------------------

class _DictSink:
    def __init__(self) -> None:
        self.blobs: dict[object, bytes] = {}

    def store(self, chunks, digest, size, compressible):  # type: ignore[no-untyped-def]
        from casstore.digest import hash_bytes
        from casstore.format.recipe import Ref

        data = b"".join(chunks())
        if hash_bytes(data) != digest or len(data) != size:
            raise AssertionError(f"sink got {len(data)} bytes not matching {digest} / {size}")
        self.blobs[digest] = data
        return Ref(digest, size)


def check_split(data: bytes) -> None:
    from casstore.format.recipe import Recipe, render
    from casstore.format.split import NotSplittable, Splitter, inflate_limit

    for kind in ("zip", "targz"):
        sink = _DictSink()
        splitter = Splitter(sink, recreate=True)
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.flush()
            try:
                segs = splitter.split_zip(f, len(data)) if kind == "zip" else splitter.split_targz(f, len(data))
            except NotSplittable:
                continue
        for blob in sink.blobs.values():
            if len(blob) > inflate_limit(len(data), 16 << 20):
                raise AssertionError(f"{kind}: a blob of {len(blob)} bytes from {len(data)} stored")
        out = b"".join(render(Recipe(len(data), segs), lambda d, blobs=sink.blobs: io.BytesIO(blobs[d])))
        if out != data:
            raise AssertionError(f"{kind}: recipe renders {len(out)} bytes that differ from the {len(data)} stored")


def check_put(data: bytes) -> None:
    from casstore import CasstoreError, Store
    from casstore.index.projects import Index

    store = Store.memory()
    for filename in ("demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz", "demo-1.0.zip"):
        try:
            info = store.put(io.BytesIO(data), filename)
        except CasstoreError:
            continue
        if store.get(filename) != data:
            raise AssertionError(f"{filename}: read back differs")
        if info.kind == "wheel":
            Index(store).core_metadata(info)  # None or the metadata; never an exception


def check_recipe(data: bytes) -> None:
    from casstore.format.recipe import RecipeError, decode, encode

    try:
        recipe = decode(data)
    except RecipeError:
        return
    if decode(encode(recipe)) != recipe:
        raise AssertionError("decode(encode(recipe)) differs")


_UNSAFE = re.compile(r"[/\\\x00]")


def check_names(data: bytes) -> None:
    from casstore.errors import InvalidFilename
    from casstore.names import parse_filename

    text = data.decode("utf-8", "replace")
    try:
        name = parse_filename(text)
    except InvalidFilename:
        return
    if _UNSAFE.search(name.filename) or name.filename.startswith(".") or _UNSAFE.search(name.project):
        raise AssertionError(f"unsafe name accepted: {text!r}")
    if parse_filename(name.filename) != name:
        raise AssertionError(f"parse not stable: {text!r}")


def check_sdist(data: bytes) -> None:
    from verifier.build.sdist import extract_sdist
    from verifier.errors import InvalidSdist

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for suffix in (".tar.gz", ".zip"):
            sdist = root / f"demo-1.0{suffix}"
            sdist.write_bytes(data)
            dest = root / "out" / "dest"
            try:
                extract_sdist(sdist, dest)
            except InvalidSdist:
                pass
            out = root / "out"
            outside = sorted(p.name for p in root.iterdir()) + sorted(p.name for p in out.glob("*"))
            if outside not in ([sdist.name, "out", "dest"], [sdist.name]):
                raise AssertionError(f"{suffix}: something was written outside the destination: {outside}")
            shutil.rmtree(out, ignore_errors=True)
            sdist.unlink()


CHECKS = {"split": check_split, "put": check_put, "recipe": check_recipe, "names": check_names,
          "sdist": check_sdist}


# -- driver -----------------------------------------------------------------------------------------

def _child(target: str, argv: list[str]) -> None:
    import atheris

    for name in ("zipfile", "tarfile", "gzip"):  # loaded by atheris or importlib.metadata already
        sys.modules.pop(name, None)
    with atheris.instrument_imports(include=["casstore", "verifier", "zipfile", "tarfile", "gzip", "packaging"]):
        import verifier.build.sdist  # noqa: F401
    check = CHECKS[target]
    atheris.Setup([sys.argv[0], *argv], check)
    atheris.Fuzz()


def run(target: str, seconds: int, artifacts: Path) -> dict[str, object]:
    corpus = artifacts / f"corpus-{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    argv = [f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=1024", "-max_len=262144",
            f"-artifact_prefix={artifacts}/{target}-", "-print_final_stats=1", str(corpus)]
    t = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", target, "--", *argv],
                          check=False, capture_output=True, text=True)
    elapsed = time.monotonic() - t
    log = proc.stdout + proc.stderr
    (artifacts / f"{target}.log").write_text(log)
    execs = re.findall(r"stat::number_of_executed_units:\s+(\d+)", log)
    cov = re.findall(r"cov: (\d+)", log)
    findings = sorted(p.name for p in artifacts.glob(f"{target}-*"))
    return {"target": target, "seconds": round(elapsed, 1), "executions": int(execs[-1]) if execs else None,
            "coverage": int(cov[-1]) if cov else None, "exit": proc.returncode, "findings": findings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60, help="total fuzzing time, split over the targets")
    ap.add_argument("--target", choices=TARGETS, action="append", help="default: every target")
    ap.add_argument("--artifacts", type=Path, default=Path("benchmarks/results/fuzz"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.rest)
        return 0
    targets = args.target or list(TARGETS)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    failed = False
    for target in targets:
        result = run(target, max(1, args.seconds // len(targets)), args.artifacts.resolve())
        print(json.dumps(result), flush=True)
        failed |= bool(result["findings"]) or result["exit"] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(Path(__file__).resolve().parent.parent))
    sys.exit(main())
