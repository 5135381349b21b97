"""Memory stays bounded for multi-GB files: put and read of 2 GiB in a child process, peak RSS measured."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import io, os, sys
    from casstore import Store

    SIZE = 2 * 1024**3
    block = os.urandom(1 << 20)

    class Gen(io.RawIOBase):
        def __init__(self):
            self.left = SIZE
            self.first = True
        def readable(self):
            return True
        def readinto(self, b):
            n = min(len(b), self.left, len(block))
            if n <= 0:
                return 0
            chunk = (b"\\x1f\\x8b" + block[2:]) if self.first else block
            self.first = False
            b[:n] = chunk[:n]
            self.left -= n
            return n

    def hwm():
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so a child of a big pytest
        # process would report its parent's size.
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    store = Store.directory(sys.argv[1])
    before = hwm()
    info = store.put(io.BufferedReader(Gen(), 1 << 20), "huge-1.0.tar.gz")
    after_put = hwm()
    n = 0
    with store.open(info.filename) as f:
        while chunk := f.read(1 << 20):
            n += len(chunk)
    after_read = hwm()
    print(before, after_put, after_read, info.size, n)
    """
)


@pytest.mark.slow
def test_put_and_read_of_2_gib_stay_under_100_mb_rss(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "store")], capture_output=True, text=True,
                       check=True)
    before, after_put, after_read, size, read = map(int, r.stdout.split())
    print(f"RSS KiB: start {before}, after put {after_put}, after read {after_read}")
    assert size == read == 2 * 1024**3
    # KiB; the whole process (interpreter and libraries included) stays small
    assert after_put < 100 * 1024, f"peak RSS after put: {after_put / 1024:.0f} MiB"
    assert after_read < 100 * 1024, f"peak RSS after read: {after_read / 1024:.0f} MiB"
