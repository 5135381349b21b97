"""Crash harness: a forked worker runs a seeded random sequence of store operations — put, get (which
reconstructs evicted wheels), rm, gc, evict, record_rebuild, pin/unpin, download counts — logging each
one to an fsync'd file before ("B") and after it returned ("A"); the parent SIGKILLs it at a random
moment and :func:`check` then asserts what must hold after any crash:

- ``fsck`` finds no corrupt or missing blob, no damaged file, no catalog problem (leftovers only:
  temp files and unreferenced blobs, which one gc removes);
- every file whose last operation returned as put / get / evict is readable and verified (an evicted
  one through reconstruction); every file whose rm returned is gone; every file the catalog lists reads;
- acknowledged rebuild records, pins and unpins are in the catalog; download counts are between the
  acknowledged and the attempted ones;
- the catalog re-derived from the blobs alone (:func:`casstore.recover_catalog`) equals the catalog.

Used by ``tests/test_crash.py`` (a few dozen trials) and ``benchmarks/crash_stress.py`` (hundreds).

Evict needs a rebuilder: :class:`RegenRebuilder` is a trivial deterministic test double that
regenerates a wheel from its recipe with the same generator that made it. The real Zig rebuilder is
not what is under test here; the store's eviction and reconstruction state machine is.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import signal
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casstore import Store, WheelCache, fsck, open_store, recover_catalog
from casstore.digest import hash_bytes

PROJECT = "crashpkg"
SDIST = f"{PROJECT}-1.0.tar.gz"
UNIVERSE = 16  # wheel versions the operations pick from: they overlap a lot
SHARED = (b"# shared by every wheel\n" + bytes(range(256)) * 40)


def wheel(i: int) -> tuple[str, bytes]:
    """Wheel number ``i``: deterministic bytes; a member shared by all, one of its own, a few KB."""
    buf = io.BytesIO()
    rnd = random.Random(i)
    members = {
        f"{PROJECT}/shared.py": SHARED,
        f"{PROJECT}/own{i}.py": (f"V = {i}\n".encode() + bytes(rnd.getrandbits(8) for _ in range(3000))),
        f"{PROJECT}/text{i}.py": f"X = {i}\n".encode() * 600,
        f"{PROJECT}-1.{i}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: 1.{i}\n".encode(),
    }
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in members.items():
            z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return f"{PROJECT}-1.{i}-py3-none-any.whl", buf.getvalue()


def sdist() -> tuple[str, bytes]:
    import gzip
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo(f"{PROJECT}-1.0/setup.py")
        info.size = len(SHARED)
        t.addfile(info, io.BytesIO(SHARED))
    return SDIST, gzip.compress(raw.getvalue(), mtime=0)


class RegenRebuilder:
    """Trivial deterministic Rebuilder double: "rebuilds" wheel ``recipe['seed']`` by regenerating it."""

    def rebuild(self, store: Any, recipe: dict[str, Any], dest_dir: Path) -> Path:
        fn, data = wheel(int(recipe["seed"]))
        dest_dir.mkdir(parents=True, exist_ok=True)
        path = dest_dir / fn
        path.write_bytes(data)
        return path


def record(i: int, n: int, sdist_blake3: str) -> dict[str, Any]:
    """A rebuild record (casstore.verification/1) saying two rebuilds reproduced wheel ``i``."""
    fn, data = wheel(i)
    digest = str(hash_bytes(data))
    recipe = {"sdist_filename": SDIST, "sdist_blake3": sdist_blake3, "target": "x86_64-linux-gnu.2.17",
              "build_deps": [], "seed": i}
    return {
        "schema": "casstore.verification/1", "recipe": recipe,
        "recipe_digest": "sha256:" + hashlib.sha256(f"recipe {i}".encode()).hexdigest(),
        "grade": "reproducible", "started": f"2026-01-01T00:00:00.{n:06d}", "seconds": 0.1,
        "builds": [{"wheel_filename": fn, "wheel_blake3": digest}, {"wheel_filename": fn, "wheel_blake3": digest}],
    }


def prepare(root: Path) -> str:
    """A fresh store with the sdist every recipe names; returns the sdist's digest."""
    with Store.directory(root) as store:
        fn, data = sdist()
        return str(store.put(io.BytesIO(data), fn).blake3)


# -- the worker -----------------------------------------------------------------------------------

OPS = (("put", 30), ("get", 10), ("rm", 8), ("gc", 6), ("record", 12), ("evict", 12), ("pin", 6),
       ("unpin", 4), ("dl", 8))


class AckLog:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, *words: object) -> None:
        os.write(self._fd, (" ".join(map(str, words)) + "\n").encode())
        os.fsync(self._fd)


def run_worker(root: Path, log_path: Path, seed: int, sdist_blake3: str, steps: int = 10_000,
               grace: float = 0.0, ops: dict[str, int] | None = None) -> None:
    """The operations of one worker; every one is announced ("B ...") and acknowledged ("A ...")."""
    rng = random.Random(seed)
    names, weights = zip(*(ops or dict(OPS)).items())
    log = AckLog(log_path)
    store = Store.directory(root)
    cache = WheelCache.attach(store, rebuilder=RegenRebuilder())
    for n in range(steps):
        op = rng.choices(names, weights)[0]
        i = rng.randrange(UNIVERSE)
        fn, data = wheel(i)
        if op == "put":
            log.write("B", op, fn)
            store.put(io.BytesIO(data), fn)
            log.write("A", op, fn)
        elif op == "get":
            if store.has(fn):
                log.write("B", op, fn)
                got = store.get(fn)
                assert got == data
                log.write("A", op, fn)
        elif op == "rm":
            if store.has(fn):
                log.write("B", op, fn)
                store.rm(fn)
                log.write("A", op, fn)
        elif op == "gc":
            log.write("B", op, "-")
            store.gc(grace=grace)
            log.write("A", op, "-")
        elif op == "record":
            rec = record(i, seed * 100_000 + n, sdist_blake3)
            rid = f"{rec['recipe_digest']}@{rec['started']}"
            log.write("B", op, rid)
            store.record_rebuild(rec)
            log.write("A", op, rid)
        elif op == "evict":
            if store.has(fn) and cache.evictable(fn).evictable:
                log.write("B", op, fn)
                report = cache.evict([fn])
                log.write("A", op, fn, "yes" if report.evicted else "no")
        elif op == "pin":
            k = rng.randrange(4)
            log.write("B", op, k)
            d = store.put_blob(f"pin {k} {seed} {n}".encode() * 50, ref=f"pin:{k}")
            log.write("A", op, k, d)
        elif op == "unpin":
            k = rng.randrange(4)
            log.write("B", op, k)
            store.unpin(f"pin:{k}")
            log.write("A", op, k)
        elif op == "dl":
            log.write("B", op, fn)
            store.count_downloads({fn: 1}, float(n))
            log.write("A", op, fn)


# -- one trial ------------------------------------------------------------------------------------


@dataclass
class Trial:
    seed: int
    acked: int = 0  # operations that returned before the kill
    ops: dict[str, int] = field(default_factory=dict)
    killed_in: str = "-"  # the operation in flight when the kill landed
    problems: list[str] = field(default_factory=list)


def run_trial(base: Path, seed: int, *, max_delay: float = 1.0, recovery: bool = True,
              ops: dict[str, int] | None = None) -> Trial:
    """Fork a worker on a fresh store under ``base``, SIGKILL it at a random moment, check the store."""
    rng = random.Random(seed)
    root = base / f"store-{seed}"
    shutil.rmtree(root, ignore_errors=True)
    sd = prepare(root)
    log_path = base / f"acks-{seed}.log"
    log_path.unlink(missing_ok=True)
    log_path.touch()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller (pytest)
        code = 0
        try:
            run_worker(root, log_path, seed, sd, ops=ops)
        except BaseException as e:  # noqa: BLE001 - reported through the log and the exit status
            with open(log_path, "a") as f:
                f.write(f"E {type(e).__name__}: {e}\n")
            code = 3
        os._exit(code)
    deadline = time.monotonic() + 60
    while b"\nA " not in b"\n" + log_path.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.005)  # start the clock after the first acknowledged operation (start-up varies)
    time.sleep(rng.random() * max_delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    trial = Trial(seed)
    if not os.WIFSIGNALED(status):
        trial.problems.append(f"worker exited by itself (status {status}): {log_path.read_text()[-500:]}")
    check(root, log_path.read_text().splitlines(), trial, recovery=recovery)
    if not trial.problems:
        shutil.rmtree(root, ignore_errors=True)
        log_path.unlink()
    return trial


def _events(lines: list[str]) -> Iterator[tuple[str, str, list[str]]]:
    for ln in lines:
        parts = ln.split()
        if len(parts) >= 3 and parts[0] in ("A", "B"):
            yield parts[0], parts[1], parts[2:]


def check(root: Path, lines: list[str], trial: Trial, *, recovery: bool = True) -> None:
    """Everything that must hold after a crash; problems are appended to ``trial.problems``."""
    p = trial.problems
    errors = [ln for ln in lines if ln.startswith("E ")]
    p.extend(f"worker raised: {e}" for e in errors)
    last: dict[str, tuple[str, str]] = {}  # filename -> (A|B, op) of its last mutating event
    pins: dict[str, tuple[str, str, str | None]] = {}
    records_acked: set[str] = set()
    dl_acked: dict[str, int] = {}
    dl_begun: dict[str, int] = {}
    pending = "-"
    for ab, op, args in _events(lines):
        pending = f"{op} {' '.join(args)}" if ab == "B" else "-"
        if ab == "A":
            trial.acked += 1
            trial.ops[op] = trial.ops.get(op, 0) + 1
        if op in ("put", "rm", "evict", "get"):
            last[args[0]] = (ab, op)
        elif op in ("pin", "unpin"):
            pins[args[0]] = (ab, op, args[1] if ab == "A" and op == "pin" else None)
        elif op == "record" and ab == "A":
            records_acked.add(args[0])
        elif op == "dl":
            (dl_acked if ab == "A" else dl_begun)[args[0]] = (dl_acked if ab == "A" else dl_begun).get(args[0], 0) + 1
    trial.killed_in = pending
    with open_store(root, rebuilder=RegenRebuilder(), create=False) as store:
        report = fsck(store)
        if not report.ok:
            p.append(f"fsck: corrupt={report.corrupt} missing={report.missing} damaged={report.damaged_files} "
                     f"catalog={report.catalog_problems}")
        for fn, (ab, op) in sorted(last.items()):
            if ab == "A" and op in ("put", "get", "evict") and not store.has(fn):
                p.append(f"{fn}: lost ({op} returned, no rm after it)")
            if ab == "A" and op == "rm" and store.has(fn):
                p.append(f"{fn}: rm returned but the file is still there")
        for info in store.ls():
            try:
                data = store.get(info.filename)  # verified; an evicted wheel is reconstructed
                if info.filename != SDIST and data != wheel(int(info.version.split(".")[1]))[1]:
                    p.append(f"{info.filename}: read back other bytes")
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                p.append(f"{info.filename}: unreadable: {type(e).__name__}: {e}")
        ids = {r["id"] for r in store.catalog.rebuilds()}
        if missing := records_acked - ids:
            p.append(f"acknowledged rebuild records missing: {sorted(missing)[:3]}")
        for k, (ab, op, digest) in pins.items():
            held = store.catalog.blobs_of(f"pin:{k}")
            if ab == "A" and op == "unpin" and held:
                p.append(f"pin:{k}: unpin returned but it still holds {held}")
            if ab == "A" and op == "pin" and digest and digest.removeprefix("blake3:") not in held:
                p.append(f"pin:{k}: pin returned but it does not hold {digest}")
        counts = store.downloads()
        for fn in set(dl_acked) | set(dl_begun):
            lo, hi = dl_acked.get(fn, 0), dl_begun.get(fn, 0)
            if not lo <= counts.get(fn, 0) <= hi:
                p.append(f"{fn}: {counts.get(fn, 0)} downloads counted, acknowledged {lo}, attempted {hi}")
        store.gc(grace=-1)  # leftovers of the crash are garbage: one gc takes them
        after = fsck(store)
        if after.unreferenced or after.temp_files or not after.ok:
            p.append(f"after gc: unreferenced={len(after.unreferenced)} temp={after.temp_files} ok={after.ok}")
        want = _catalog_view(store)
    if recovery and not p:
        copy = root.with_name(root.name + "-recovered")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        for suffix in ("", "-wal", "-shm"):
            (copy / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
        recover_catalog(copy)
        with Store.directory(copy, create=False) as again:
            got = _catalog_view(again)
        shutil.rmtree(copy)
        for part in want:
            if want[part] != got[part]:
                p.append(f"recovered catalog differs in {part}: {sorted(want[part] ^ got[part])[:3]}")


def _catalog_view(store: Store) -> dict[str, set[Any]]:
    """What a catalog recovery must give back: file rows, their references, rebuild records."""
    cols = ("filename", "blake3", "sha256", "size", "layout", "manifest", "origin", "added", "state", "recipe_digest")
    # recipe_digest matters only while a file is evicted (a revived file's row keeps the old one)
    files = {tuple(r.get(c) if c != "recipe_digest" or r.get("state") == "evicted" else None for c in cols)
             for r in store.catalog.files()}
    refs = {(r["owner"], r["blob"]) for r in store.catalog.query("SELECT owner, blob FROM refs")
            if r["owner"].startswith(("file:", "record:"))}
    rebuilds = {(r["id"], r["record"], r["grade"]) for r in store.catalog.rebuilds()}
    return {"files": files, "refs": refs, "rebuilds": rebuilds}
