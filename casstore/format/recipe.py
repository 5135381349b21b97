"""Recipes: a file as an ordered list of segments whose concatenation is the original bytes.

Three kinds of segment:

- :class:`Lit` — a small literal run kept in the manifest itself (zip local headers, the central
  directory, tar headers, gzip headers and trailers, tiny members);
- :class:`Ref` — the whole content of a blob (a member's bytes, deduplicated across the store);
- :class:`Deflate` — the raw deflate stream that the pinned engine (:mod:`._deflate`) produces
  from the concatenation of its inner segments with the recorded parameters (and, since manifest
  version 2, a check of that stream, which lets a faster equal engine re-create it on read).

The manifest is a small binary document (see ``docs/format.md``), stored as a blob itself and named
in ``files.manifest``. :func:`render` turns a recipe back into bytes as a stream: memory stays
bounded by one chunk per nesting level whatever the file size.
"""

from __future__ import annotations

import functools
import io
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from ..digest import CHUNK, Digest
from ..errors import CasstoreError
from . import deflate as _deflate

__all__ = [
    "MANIFEST_VERSION",
    "Deflate",
    "IterReader",
    "Lit",
    "Recipe",
    "RecipeError",
    "Ref",
    "Segment",
    "decode",
    "encode",
    "render",
]

MANIFEST_MAGIC = b"CASR"
MANIFEST_VERSION = 2  # 1: no stream checks; 2: Deflate segments may carry a check (tag 4)
_END, _LIT, _REF, _DEFLATE, _DEFLATE_CHECKED = 0, 1, 2, 3, 4


class RecipeError(CasstoreError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Invalid recipe manifest: {reason}")


@dataclass(frozen=True, slots=True)
class Lit:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Ref:
    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class Deflate:
    params: _deflate.Params
    size: int  # bytes of deflate output
    inner: tuple[Segment, ...]
    check: bytes | None = None  # _deflate.stream_check of the original stream, taken at ingest


Segment = Lit | Ref | Deflate


@dataclass(frozen=True, slots=True)
class Recipe:
    size: int
    segments: tuple[Segment, ...]
    engine: str = _deflate.ENGINE_ID

    def refs(self) -> set[Digest]:
        """Every blob the recipe needs."""
        return set(self.ref_sizes())

    def ref_sizes(self) -> dict[Digest, int]:
        """Every blob the recipe needs, with its (uncompressed) size."""
        out: dict[Digest, int] = {}
        _collect(self.segments, out)
        return out

    def uses_engine(self) -> bool:
        return _has_deflate(self.segments)


def _collect(segs: Iterable[Segment], out: dict[Digest, int]) -> None:
    for s in segs:
        if isinstance(s, Ref):
            out[s.digest] = s.size
        elif isinstance(s, Deflate):
            _collect(s.inner, out)


def _has_deflate(segs: Iterable[Segment]) -> bool:
    return any(isinstance(s, Deflate) for s in segs)


def _has_check(segs: Iterable[Segment]) -> bool:
    return any(isinstance(s, Deflate) and (s.check is not None or _has_check(s.inner)) for s in segs)


def coalesce(segs: Iterable[Segment]) -> tuple[Segment, ...]:
    """Merge adjacent literals and drop empty ones."""
    out: list[Segment] = []
    for s in segs:
        if isinstance(s, Lit):
            if not s.data:
                continue
            if out and isinstance(out[-1], Lit):
                out[-1] = Lit(out[-1].data + s.data)
                continue
        out.append(s)
    return tuple(out)


# -- encoding -----------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(n)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _encode_segs(segs: Iterable[Segment], out: bytearray) -> None:
    for s in segs:
        if isinstance(s, Lit):
            out += bytes([_LIT]) + _varint(len(s.data)) + s.data
        elif isinstance(s, Ref):
            out += bytes([_REF]) + bytes.fromhex(s.digest.hex) + _varint(s.size)
        else:
            p = s.params
            tag = _DEFLATE if s.check is None else _DEFLATE_CHECKED
            out += bytes([tag, p.level, p.mem_level, -p.wbits, p.strategy]) + _varint(s.size)
            if s.check is not None:
                if len(s.check) != _deflate.CHECK_SIZE:
                    raise ValueError(f"stream check must be {_deflate.CHECK_SIZE} bytes, not {len(s.check)}")
                out += s.check
            _encode_segs(s.inner, out)
            out.append(_END)


def encode(recipe: Recipe) -> bytes:
    engine = recipe.engine.encode()
    # Version 1 when nothing needs version 2: such manifests stay readable by older casstores.
    version = MANIFEST_VERSION if _has_check(recipe.segments) else 1
    out = bytearray(MANIFEST_MAGIC + bytes([version]) + _varint(len(engine)) + engine
                    + _varint(recipe.size))
    _encode_segs(recipe.segments, out)
    out.append(_END)
    return bytes(out)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RecipeError("truncated")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        n = shift = 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 63:
                raise RecipeError("varint too long")


def _decode_segs(c: _Cursor, depth: int) -> tuple[Segment, ...]:
    if depth > 4:
        raise RecipeError("nested too deeply")
    out: list[Segment] = []
    while True:
        tag = c.byte()
        if tag == _END:
            return tuple(out)
        if tag == _LIT:
            out.append(Lit(c.take(c.varint())))
        elif tag == _REF:
            out.append(Ref(Digest(c.take(32).hex()), c.varint()))
        elif tag in (_DEFLATE, _DEFLATE_CHECKED):
            level, mem, wbits, strategy = c.take(4)
            params = _deflate.Params(level, mem, -wbits, strategy)
            size = c.varint()
            check = c.take(_deflate.CHECK_SIZE) if tag == _DEFLATE_CHECKED else None
            out.append(Deflate(params, size, _decode_segs(c, depth + 1), check))
        else:
            raise RecipeError(f"unknown segment tag {tag}")


def decode(data: bytes) -> Recipe:
    c = _Cursor(data)
    if c.take(4) != MANIFEST_MAGIC:
        raise RecipeError("bad magic")
    version = c.byte()
    if version > MANIFEST_VERSION:
        raise RecipeError(f"manifest version {version} is newer than this casstore ({MANIFEST_VERSION})")
    try:
        engine = c.take(c.varint()).decode()
    except UnicodeDecodeError as e:
        raise RecipeError(f"engine name is not UTF-8 ({e})") from None
    size = c.varint()
    segs = _decode_segs(c, 0)
    if c.pos != len(data):
        raise RecipeError("trailing bytes")
    return Recipe(size, segs, engine)


# -- rendering ----------------------------------------------------------------------------------

OpenBlob = Callable[[Digest], BinaryIO]


AHEAD_BYTES = 32 << 20  # deflate output re-created ahead of the reader, at most (plus one stream)
AHEAD_MIN = 1 << 20  # files with fewer deflated bytes are rendered in order (threads would cost more)


def render(recipe: Recipe, open_blob: OpenBlob, *, workers: int | None = None,
           ahead_min: int = AHEAD_MIN) -> Iterator[bytes]:
    """The original bytes, as a stream of chunks. With ``workers`` > 1 (default: one per CPU, at
    most 2), the file's deflate streams (its zip members) are re-created by that many threads ahead
    of the reader, in order, up to :data:`AHEAD_BYTES` buffered, when they add up to ``ahead_min``
    bytes or more; with 0 or 1 one at a time.
    ``open_blob`` is then called from those threads."""
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if recipe.uses_engine() and recipe.engine != _deflate.ENGINE_ID:
        raise _deflate.EngineUnavailable(f"recipe needs engine {recipe.engine!r}")
    ahead = [s.size for s in recipe.segments if isinstance(s, Deflate) and s.check is not None]
    if workers > 1 and len(ahead) > 1 and sum(ahead) >= ahead_min:
        return _render_ahead(recipe.segments, open_blob, workers)
    return _render(recipe.segments, open_blob)


def _render_ahead(segs: tuple[Segment, ...], open_blob: OpenBlob, workers: int) -> Iterator[bytes]:
    pool = ThreadPoolExecutor(workers, thread_name_prefix="casstore-deflate")
    queue: deque[tuple[Segment, Future[list[bytes] | None] | None]] = deque()
    ahead = 0
    i = 0
    try:
        while True:
            while i < len(segs) and (ahead < AHEAD_BYTES or not queue):
                s = segs[i]
                i += 1
                fut = None
                if isinstance(s, Deflate) and s.check is not None and s.size <= _deflate.ACCEL_MAX:
                    fut = pool.submit(_deflate.accelerate, s.params, s.size, s.check,
                                      functools.partial(_render, s.inner, open_blob))
                    ahead += s.size
                queue.append((s, fut))
            if not queue:
                return
            s, fut = queue.popleft()
            if fut is None:
                yield from _render((s,), open_blob)
                continue
            assert isinstance(s, Deflate)
            ahead -= s.size
            out = fut.result()
            if out is not None:
                yield from out
            else:
                yield from _deflate.pinned_stream(s.params, s.size, s.check,
                                                  functools.partial(_render, s.inner, open_blob))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _render(segs: Iterable[Segment], open_blob: OpenBlob) -> Iterator[bytes]:
    for s in segs:
        if isinstance(s, Lit):
            yield s.data
        elif isinstance(s, Ref):
            with open_blob(s.digest) as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        else:
            yield from _deflate.recreate(s.params, s.size, s.check, functools.partial(_render, s.inner, open_blob))


class IterReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._it = chunks
        self._buf = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._buf):
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
            self._pos = 0
        n = min(len(buffer), len(self._buf) - self._pos)
        buffer[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close:
            close()
        super().close()
