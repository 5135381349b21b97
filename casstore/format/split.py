"""Splitting a distribution file into a recipe: zip (wheels, zip sdists) and gzip + tar (sdists).

Pure decisions over a seekable spool of the original bytes; blobs are handed to a :class:`Sink`.
Every segment is checked against the byte range of the original it stands for while it is made
(literals and raw ranges are slices of it; a re-created deflate stream is compared byte by byte
with the original compressed bytes), and the segments must tile the file exactly — so a recipe
that comes out of :func:`split` reproduces the original by construction. Anything the splitter
does not understand raises :class:`NotSplittable` and the caller stores the file whole.
"""

from __future__ import annotations

import functools
import os
import struct
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import blake3

from .. import untrusted as _untrusted
from ..digest import CHUNK, Digest
from . import deflate as _deflate
from .recipe import Deflate, Lit, Ref, Segment, coalesce

__all__ = ["INLINE_MAX", "LIT_MAX", "NotSplittable", "Sink", "Splitter"]

INLINE_MAX = 64  # member data up to this size stays in the manifest
LIT_MAX = 64 * 1024  # literal runs above this size become blobs (keeps manifests small)
_MAX_CD = 64 << 20
_STEP = 32 * 1024
PROBE_AHEAD = 4  # members probed ahead of the one being stored (see Splitter._probes)
PROBE_THREADS_MIN = 1 << 20  # below this many deflated bytes a wheel is probed in order (threads cost more)
_MAX_TAR_MEMBERS = 200_000
# Decompression is bounded by what was stored: a stream that inflates to more than this ratio of its
# compressed size (plus a slack for small ones) is kept as it is, so a bomb costs no more work, disk
# or time than a few times its own size. Real members and sdists stay far below (text: ~3-10x).
MAX_RATIO = 64
_SLACK = 1 << 20
_TAR_SLACK = 16 << 20


def inflate_limit(compressed: int, slack: int = _SLACK) -> int:
    """The most bytes a deflate stream of ``compressed`` bytes may inflate to before we stop."""
    return MAX_RATIO * compressed + slack


class NotSplittable(Exception):
    """The file is not a well-formed archive of a kind we split; store it whole."""


class Sink(Protocol):
    def store(self, chunks: Callable[[], Iterable[bytes]], digest: Digest, size: int, compressible: bool) -> Ref:
        """Make sure a blob with these bytes exists (``chunks()`` yields them) and return its segment."""
        ...


def _pread_chunks(fd: int, start: int, end: int) -> Iterator[bytes]:
    pos = start
    while pos < end:
        data = os.pread(fd, min(CHUNK, end - pos), pos)
        if not data:
            raise NotSplittable("short read")
        yield data
        pos += len(data)


def _hash_range(fd: int, start: int, end: int) -> Digest:
    h = blake3.blake3()
    for chunk in _pread_chunks(fd, start, end):
        h.update(chunk)
    return Digest(h.hexdigest())


@dataclass
class _Match:
    params: _deflate.Params
    digest: Digest
    size: int


def _inflate(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """Decompress one raw deflate stream that must end exactly at the end of ``chunks`` and inflate
    to at most ``limit`` bytes."""
    d = zlib.decompressobj(-15)
    total = 0
    for chunk in chunks:
        if d.eof:
            raise NotSplittable("data after the end of the deflate stream")
        for out in _bounded(d, chunk):
            total += len(out)
            if total > limit:
                raise NotSplittable(f"deflate stream inflates to more than {limit} bytes")
            yield out
        if _leftover(d):
            raise NotSplittable("data after the end of the deflate stream")
    if not d.eof:
        raise NotSplittable("truncated deflate stream")


def _leftover(d: zlib._Decompress) -> int:
    """Input bytes past the end of a finished stream. With a max_length, CPython may keep them in
    ``unconsumed_tail`` rather than ``unused_data`` (seen with a gzip trailer in the same chunk)."""
    return len(d.unused_data) + (len(d.unconsumed_tail) if d.eof else 0)


def _bounded(d: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """Decompress ``data`` in pieces of at most CHUNK bytes (a small input may expand enormously)."""
    try:
        while True:
            out = d.decompress(data, CHUNK)
            if out:
                yield out
            if d.eof:
                return
            data = d.unconsumed_tail
            if not data and len(out) < CHUNK:
                return
    except zlib.error as e:
        raise NotSplittable(f"bad deflate stream ({e})") from e


class _Comparer:
    """Feed re-created output; it must equal the original compressed stream, read in parallel."""

    def __init__(self, original: Iterator[bytes]) -> None:
        self._orig = original
        self._buf = b""
        self.ok = True

    def feed(self, out: bytes) -> bool:
        while out:
            if not self._buf:
                self._buf = next(self._orig, b"")
                if not self._buf:
                    self.ok = False
                    return False
            n = min(len(out), len(self._buf))
            if out[:n] != self._buf[:n]:
                self.ok = False
                return False
            out, self._buf = out[n:], self._buf[n:]
        return True

    def finished(self) -> bool:
        return self.ok and not self._buf and next(self._orig, b"") == b""


def _first_match(candidates: Iterable[_deflate.Params], original: Callable[[], Iterator[bytes]],
                 plain: Callable[[], Iterable[bytes]]) -> _deflate.Params | None:
    for params in candidates:
        if _try_params(params, plain(), original()):
            return params
    return None


@dataclass(frozen=True, slots=True)
class _Probe:
    digest: Digest  # of the decompressed member
    size: int
    limit: int
    params: _deflate.Params | None  # None: the pinned engine does not re-create the stream


def _probe(fd: int, start: int, end: int, candidates: list[_deflate.Params]) -> _Probe | None:
    """Decompress the deflate stream at [start, end) and find the candidate the pinned engine
    re-creates it with. None when it is not a well-formed stream of that extent. Pure: runs in
    worker threads."""
    limit = inflate_limit(end - start)
    try:
        h = blake3.blake3()
        size = 0
        for chunk in _inflate(_pread_chunks(fd, start, end), limit):
            h.update(chunk)
            size += len(chunk)
    except NotSplittable:
        return None
    params = _first_match(candidates, lambda: _pread_chunks(fd, start, end),
                          lambda: _inflate(_pread_chunks(fd, start, end), limit))
    return _Probe(Digest(h.hexdigest()), size, limit, params)


def _try_params(params: _deflate.Params, plain: Iterable[bytes], original: Iterator[bytes]) -> bool:
    cmp = _Comparer(original)
    d = _deflate.Deflater(params)
    try:
        for chunk in plain:
            # Small steps: a wrong candidate shows at its first block, long before a whole chunk.
            for i in range(0, len(chunk), _STEP):
                if not cmp.feed(d.compress(chunk[i:i + _STEP])):
                    return False
        return cmp.feed(d.flush()) and cmp.finished()
    finally:
        d.close()


class Splitter:
    """Split one spooled file. ``recreate`` enables re-creating deflate streams (the compact tier)."""

    def __init__(self, sink: Sink, *, recreate: bool = True, tmp_dir: str | None = None,
                 workers: int | None = None, threads_min: int = PROBE_THREADS_MIN) -> None:
        """``workers``: threads that look for the deflate parameters of a wheel's members ahead of
        the one being stored (default: one per CPU, at most 2; 1 = everything in order, here), for
        wheels with at least ``threads_min`` deflated bytes."""
        self.sink = sink
        self.workers = min(2, os.cpu_count() or 1) if workers is None else workers
        self.threads_min = threads_min
        self.recreate = recreate and _deflate.engine_available()
        self.tmp_dir = tmp_dir
        self._preferred: list[_deflate.Params] = []
        self._misses = 0
        self.stats = {"members": 0, "recreated": 0, "raw": 0}

    # -- deflate re-creation ----------------------------------------------------------------

    def _candidates(self) -> list[_deflate.Params]:
        seen = list(dict.fromkeys(self._preferred + list(_deflate.CANDIDATES)))
        if self._misses >= 2 and not self._preferred:
            # Nothing in this file matched yet (e.g. a wheel written by maturin): try only the two
            # common settings for the rest instead of every candidate for every member.
            return seen[:2]
        return seen

    def _recreate(self, original: Callable[[], Iterator[bytes]],
                  plain: Callable[[], Iterable[bytes]]) -> _deflate.Params | None:
        params = _first_match(self._candidates(), original, plain)
        self._learn(params)
        return params

    def _learn(self, params: _deflate.Params | None) -> None:
        if params is None:
            self._misses += 1
            return
        if params in self._preferred:
            self._preferred.remove(params)
        self._preferred.insert(0, params)

    def _wants_probe(self, start: int, end: int, method: int) -> bool:
        return end - start > INLINE_MAX and method == 8 and self.recreate

    def _member(self, fd: int, start: int, end: int, method: int, probe: _Probe | None = None) -> Segment:
        """One zip member's data at [start, end) of the spool; ``probe`` is what :func:`_probe`
        found for it (computed here when not given)."""
        self.stats["members"] += 1
        if end - start <= INLINE_MAX:
            return Lit(os.pread(fd, end - start, start))
        if self._wants_probe(start, end, method):
            if probe is None:
                probe = _probe(fd, start, end, self._candidates())
            if probe is not None:
                self._learn(probe.params)
            if probe is not None and probe.params is not None:
                self.stats["recreated"] += 1
                limit = probe.limit
                inner: Segment
                if probe.size <= INLINE_MAX:
                    inner = Lit(b"".join(_inflate(_pread_chunks(fd, start, end), limit)))
                else:
                    inner = self.sink.store(lambda: _inflate(_pread_chunks(fd, start, end), limit),
                                            probe.digest, probe.size, True)
                check = _deflate.stream_check(_pread_chunks(fd, start, end))
                return Deflate(probe.params, end - start, (inner,), check)
        self.stats["raw"] += 1
        return self.sink.store(lambda: _pread_chunks(fd, start, end), _hash_range(fd, start, end), end - start,
                               method == 0)

    def _gap(self, fd: int, start: int, end: int) -> Segment:
        """Bytes between members (headers, directory): a literal, or a blob when large."""
        if end - start <= LIT_MAX:
            return Lit(os.pread(fd, end - start, start))
        return self.sink.store(lambda: _pread_chunks(fd, start, end), _hash_range(fd, start, end), end - start,
                               True)

    # -- zip ---------------------------------------------------------------------------------

    def split_zip(self, f: BinaryIO, size: int) -> tuple[Segment, ...]:
        fd = f.fileno()
        entries = _zip_entries(fd, size)
        members: list[tuple[int, int, int, int]] = []  # (gap start, data start, data end, method)
        pos = 0
        for lho, csize, method in sorted(set(entries)):
            if lho < pos:
                continue  # a duplicate or overlapping entry: its bytes are already covered
            head = os.pread(fd, 30, lho)
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                raise NotSplittable(f"no local header at {lho}")
            n, m = struct.unpack("<HH", head[26:30])
            start = lho + 30 + n + m
            end = start + csize
            if end > size:
                raise NotSplittable("member data past the end of the file")
            members.append((pos, start, end, method))
            pos = end
        probes = self._probes(fd, [(s, e, m) for _, s, e, m in members if e > s])
        segs: list[Segment] = []
        for gap, start, end, method in members:
            segs.append(self._gap(fd, gap, start))
            if end > start:
                segs.append(self._member(fd, start, end, method, next(probes)))
        segs.append(self._gap(fd, pos, size))
        return _checked(coalesce(segs), size)

    def _probes(self, fd: int, members: list[tuple[int, int, int]]) -> Iterator[_Probe | None]:
        """:func:`_probe` of each member, in order, run by ``workers`` threads up to PROBE_AHEAD
        members ahead (the pinned engine releases the GIL, so the cores share the work). Member i's
        candidates are taken after members up to i - PROBE_AHEAD were learnt from: the params chosen
        do not depend on timing."""
        probed = [e - s for s, e, m in members if self._wants_probe(s, e, m)]
        if self.workers <= 1 or len(probed) < 2 or sum(probed) < self.threads_min:
            for m in members:
                yield None  # _member probes itself, in order
            return
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="casstore-split")
        futures: deque[Future[_Probe | None] | None] = deque()
        try:
            for i in range(len(members) + PROBE_AHEAD):
                if i < len(members):
                    start, end, method = members[i]
                    wanted = self._wants_probe(start, end, method)
                    futures.append(pool.submit(_probe, fd, start, end, self._candidates()) if wanted else None)
                if i >= PROBE_AHEAD:
                    fut = futures.popleft()
                    yield fut.result() if fut is not None else None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- gzip + tar ----------------------------------------------------------------------------

    def split_targz(self, f: BinaryIO, size: int) -> tuple[Segment, ...]:
        fd = f.fileno()
        head = os.pread(fd, min(size, 65536), 0)
        hlen = _gzip_header_len(head)
        if not self.recreate:
            raise NotSplittable("gzip layer kept (fast tier)")
        limit = inflate_limit(size, _TAR_SLACK)
        with tempfile.TemporaryFile(dir=self.tmp_dir) as tar:
            d = zlib.decompressobj(-15)
            pos = hlen
            while not d.eof:
                chunk = os.pread(fd, CHUNK, pos)
                if not chunk:
                    raise NotSplittable("truncated gzip stream")
                for out in _bounded(d, chunk):
                    tar.write(out)
                if tar.tell() > limit:
                    raise NotSplittable(f"gzip stream inflates to more than {limit} bytes")
                pos += len(chunk) - _leftover(d)
            deflate_end = pos
            if deflate_end + 8 > size:
                raise NotSplittable("truncated gzip trailer")
            tar_size = tar.tell()
            tar.flush()
            tfd = tar.fileno()
            params = self._recreate(lambda: _pread_chunks(fd, hlen, deflate_end),
                                    lambda: _pread_chunks(tfd, 0, tar_size))
            if params is None:
                raise NotSplittable("gzip stream not re-created by the pinned engine")
            try:
                inner = self._split_tar(tar, tar_size)
            except NotSplittable:
                inner = (self._gap(tfd, 0, tar_size),)
            check = _deflate.stream_check(_pread_chunks(fd, hlen, deflate_end))
            segs: list[Segment] = [Lit(head[:hlen]), Deflate(params, deflate_end - hlen, inner, check),
                                   self._gap(fd, deflate_end, size)]
            return _checked(coalesce(segs), size)

    def _split_tar(self, tar: BinaryIO, size: int) -> tuple[Segment, ...]:
        fd = tar.fileno()
        tar.seek(0)
        segs: list[Segment] = []
        pos = 0
        try:
            with tarfile.open(fileobj=tar, mode="r:", tarinfo=_untrusted.BoundedTarInfo) as tf:
                for m in _untrusted.members(tf, _MAX_TAR_MEMBERS):
                    if m.issparse():
                        raise NotSplittable("sparse member")
                    if not m.isreg() or m.size == 0:
                        continue
                    start, end = m.offset_data, m.offset_data + m.size
                    if start < pos or end > size:
                        raise NotSplittable("tar member out of order")
                    segs.append(self._gap(fd, pos, start))
                    self.stats["members"] += 1
                    if m.size <= INLINE_MAX:
                        segs.append(Lit(os.pread(fd, m.size, start)))
                    else:
                        segs.append(self.sink.store(functools.partial(_pread_chunks, fd, start, end),
                                                    _hash_range(fd, start, end), m.size, True))
                    pos = end
        except (tarfile.TarError, OSError, ValueError) as e:
            raise NotSplittable(f"bad tar ({e})") from e
        segs.append(self._gap(fd, pos, size))
        return _checked(coalesce(segs), size)


def _checked(segs: tuple[Segment, ...], size: int) -> tuple[Segment, ...]:
    total = sum(s.size for s in segs)
    if total != size:
        raise AssertionError(f"recipe covers {total} bytes of {size}")
    return segs


def _gzip_header_len(head: bytes) -> int:
    if len(head) < 18 or head[:3] != b"\x1f\x8b\x08":
        raise NotSplittable("not gzip")
    flg = head[3]
    if flg & 0xE0:
        raise NotSplittable("reserved gzip flags")
    pos = 10
    if flg & 4:  # FEXTRA
        (xlen,) = struct.unpack_from("<H", head, pos)
        pos += 2 + xlen
    for bit in (8, 16):  # FNAME, FCOMMENT
        if flg & bit:
            end = head.find(b"\0", pos)
            if end < 0:
                raise NotSplittable("gzip header too long")
            pos = end + 1
    if flg & 2:  # FHCRC
        pos += 2
    if pos >= len(head):
        raise NotSplittable("gzip header too long")
    return pos


def _zip_entries(fd: int, size: int) -> list[tuple[int, int, int]]:
    """(local header offset, compressed size, method) of every central directory entry."""
    tail_len = min(size, 65535 + 22 + 20)
    tail = os.pread(fd, tail_len, size - tail_len)
    at = len(tail)
    while True:
        at = tail.rfind(b"PK\x05\x06", 0, at)
        if at < 0 or len(tail) - at < 22:
            raise NotSplittable("no end of central directory")
        (clen,) = struct.unpack_from("<H", tail, at + 20)
        if at + 22 + clen == len(tail):
            break
    _, _, _, count, cd_size, cd_off, _ = struct.unpack_from("<HHHHIIH", tail, at + 4)
    if (count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_off == 0xFFFFFFFF) and at >= 20 \
            and tail[at - 20:at - 16] == b"PK\x06\x07":
        (z64_off,) = struct.unpack_from("<Q", tail, at - 20 + 8)
        rec = os.pread(fd, 56, z64_off)
        if len(rec) < 56 or rec[:4] != b"PK\x06\x06":
            raise NotSplittable("bad zip64 end of central directory")
        count, cd_size, cd_off = struct.unpack_from("<QQQ", rec, 32)
    if cd_size > _MAX_CD or cd_off + cd_size > size:
        raise NotSplittable("central directory too large or out of the file")
    cd = os.pread(fd, cd_size, cd_off)
    out = []
    p = 0
    for _ in range(count):
        if cd[p:p + 4] != b"PK\x01\x02" or p + 46 > len(cd):
            raise NotSplittable("bad central directory entry")
        method, = struct.unpack_from("<H", cd, p + 10)
        csize, usize = struct.unpack_from("<II", cd, p + 20)
        n, m, k = struct.unpack_from("<HHH", cd, p + 28)
        lho, = struct.unpack_from("<I", cd, p + 42)
        extra = cd[p + 46 + n:p + 46 + n + m]
        if 0xFFFFFFFF in (csize, usize, lho):
            csize, lho = _zip64_extra(extra, usize, csize, lho)
        out.append((lho, csize, method))
        p += 46 + n + m + k
    if any(lho + 30 > cd_off for lho, _, _ in out):
        raise NotSplittable("local header inside the central directory")
    return out


def _zip64_extra(extra: bytes, usize: int, csize: int, lho: int) -> tuple[int, int]:
    i = 0
    while i + 4 <= len(extra):
        hid, hlen = struct.unpack_from("<HH", extra, i)
        if hid == 1:
            vals = extra[i + 4:i + 4 + hlen]
            j = 0
            fields = []
            for v in (usize, csize, lho):
                if v == 0xFFFFFFFF:
                    if j + 8 > len(vals):
                        raise NotSplittable("short zip64 extra field")
                    fields.append(struct.unpack_from("<Q", vals, j)[0])
                    j += 8
                else:
                    fields.append(v)
            return fields[1], fields[2]
        i += 4 + hlen
    raise NotSplittable("zip64 sizes without a zip64 extra field")
