"""Regressions found on real files."""

from __future__ import annotations

import gzip
import io
import tarfile

from casstore import Store


def test_targz_whose_trailer_shares_a_chunk_with_more_than_a_chunk_of_output() -> None:
    """msgpack-1.0.8.tar.gz hung put: zlib kept the gzip trailer in unconsumed_tail after EOF
    when decompressing with a max_length, and the splitter looped forever."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        payload = b"".join(b"line %d of a compressible source file\n" % i for i in range(60_000))
        info = tarfile.TarInfo("demo-1.0/big.txt")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    data = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    assert len(raw.getvalue()) > 2 * (1 << 20) and len(data) < (1 << 20)
    store = Store.memory()
    store.put(io.BytesIO(data), "demo-1.0.tar.gz")
    assert store.get("demo-1.0.tar.gz") == data
