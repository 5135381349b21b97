"""Hypothesis: any zip or tar(.gz) — odd ones included — comes back bit-identical from a store."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import fsck
from casstore.store.store import Store

names = st.sampled_from(["a.py", "pkg/b.py", "pkg/__init__.py", "data/x.bin", "dup.txt", "dup.txt", "ü/é.py"])
payloads = st.one_of(
    st.binary(max_size=3000),
    st.text(alphabet="abc def\n()=:", max_size=4000).map(str.encode),
    st.integers(0, 50).map(lambda n: b"def f(x):\n    return x\n" * n),
)
members = st.lists(st.tuples(names, payloads, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
                             st.sampled_from([None, 1, 6, 9]), st.binary(max_size=12), st.booleans()),
                   max_size=6)


class _Unseekable(io.RawIOBase):
    """Makes zipfile write data descriptors (bit 3), as streaming writers do."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        return self.buf.write(b)

    def flush(self) -> None:
        pass


def build_zip(entries: list[tuple[str, bytes, int, int | None, bytes, bool]], comment: bytes,
              streamed: bool) -> bytes:
    sink: io.RawIOBase | io.BytesIO = _Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(sink, "w") as z:  # type: ignore[arg-type]
        z.comment = comment
        for name, data, method, level, extra, zip64 in entries:
            info = zipfile.ZipInfo(name, (2021, 3, 4, 5, 6, 8))
            info.compress_type = method
            if level is not None:
                info._compresslevel = level  # type: ignore[attr-defined]
            if extra:
                info.extra = b"\xfe\xca" + len(extra).to_bytes(2, "little") + extra
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(data)
    return sink.buf.getvalue() if isinstance(sink, _Unseekable) else sink.getvalue()


def build_targz(entries: list[tuple[str, bytes, int, int | None, bytes, bool]], level: int, fmt: int,
                mtime: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as t:
        for name, data, *_ in entries:
            info = tarfile.TarInfo("proj-1.0/" + name)
            info.size = len(data)
            info.mtime = mtime
            t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=level, mtime=mtime)


def round_trip(data: bytes, filename: str) -> None:
    store = Store.memory()
    info = store.put(io.BytesIO(data), filename)
    assert info.size == len(data)
    assert store.get(filename) == data
    assert fsck(store).ok


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=members.filter(bool), comment=st.binary(max_size=40), streamed=st.booleans(),
       cut=st.one_of(st.none(), st.floats(0.0, 1.0)), garbage=st.binary(max_size=30))
def test_zip_round_trip(entries: list, comment: bytes, streamed: bool, cut: float | None, garbage: bytes) -> None:
    # (an empty zip starts with its end record, not a local header: the store refuses it as a wheel)
    data = build_zip(entries, comment, streamed)
    if cut is not None:  # truncated: must still be stored (whole) and come back exactly
        data = data[: max(4, int(len(data) * cut))]
    round_trip(data + garbage, "proj-1.0-py3-none-any.whl")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=members, level=st.integers(1, 9), fmt=st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT,
                                                                        tarfile.USTAR_FORMAT]),
       mtime=st.integers(0, 2**31 - 1), cut=st.one_of(st.none(), st.floats(0.0, 1.0)), tail=st.binary(max_size=20))
def test_targz_round_trip(entries: list, level: int, fmt: int, mtime: int, cut: float | None, tail: bytes) -> None:
    try:
        data = build_targz(entries, level, fmt, mtime)
    except ValueError:  # a name USTAR cannot hold
        return
    if cut is not None:
        data = data[: max(2, int(len(data) * cut))]
    round_trip(data + tail, "proj-1.0.tar.gz")
