"""The pinned deflate engine: zlib 1.3.2 as shipped by the ``cmeel-zlib`` wheel, called through ctypes.

Re-creating a deflate stream bit-exactly depends on the implementation, not only on the format:
Python's :mod:`zlib` links whatever zlib the system has (zlib-ng in "compat" mode on some
distributions gives other bytes). A store that re-creates members with the system zlib could
become unreadable after an OS upgrade. So casstore never re-creates with :mod:`zlib`: it loads the
``libz`` of a pinned PyPI dependency (``cmeel-zlib==1.3.2``), checks that it reports the expected
version and that it compresses a calibration input to the expected bytes, and records the engine's
id (:data:`ENGINE_ID`) in every manifest that relies on it. Python's :mod:`zlib` is only used to
*decompress* (inflate output is defined by the format, not by the implementation).

When the engine is unavailable, ingest simply keeps the original deflate bytes (nothing is lost),
and reading a recipe that needs it fails with a message naming the package to install.

Reading is faster with an *accelerator*: Python's :mod:`zlib` (the system library, built with
optimization, GIL released) is used to re-create a stream when (1) it compresses the calibration
input to the pinned engine's bytes and (2) the manifest recorded a check of the original stream
(:func:`stream_check`, taken at ingest from the original bytes). The accelerator's output for one
stream is buffered and handed out only if it has the recorded check; otherwise that stream is
re-created by the pinned engine. So the pinned engine stays the reference that every stream was
verified with at ingest, and the accelerator is only ever a proven-equal shortcut.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import blake3

from ..errors import CasstoreError, ChecksumMismatch

__all__ = [
    "CANDIDATES",
    "CHECK_SIZE",
    "ENGINE_ID",
    "Deflater",
    "EngineUnavailable",
    "Params",
    "StreamMismatch",
    "accelerate",
    "accelerator_available",
    "deflater",
    "engine_available",
    "pinned_stream",
    "recreate",
    "stream_check",
]

ENGINE_ID = "zlib-1.3.2"
_PACKAGE = "cmeel-zlib"
_VERSION = b"1.3.2"

_Z_OK, _Z_STREAM_END, _Z_BUF_ERROR = 0, 1, -5
_Z_NO_FLUSH, _Z_FINISH = 0, 4
_OUT = 1 << 18
CHECK_SIZE = 8  # bytes of BLAKE3 kept per re-created stream (a check of one engine's output, not an address)
ACCEL_MAX = 32 << 20  # streams up to this size (deflated) may be re-created by the accelerator (buffered)


@dataclass(frozen=True, slots=True)
class Params:
    """deflateInit2 parameters (method is always 8, raw deflate: windowBits negative)."""

    level: int = 6
    mem_level: int = 8
    wbits: int = -15
    strategy: int = 0


# Tried in this order at ingest; the first that reproduces a stream exactly wins.
# 6: zipfile's default (wheels from setuptools/pip/wheel); 9: tarfile/gzip's default (sdists).
CANDIDATES: tuple[Params, ...] = (Params(6), Params(9), Params(1), Params(5), Params(4), Params(8), Params(7),
                                  Params(3), Params(2), Params(9, 9), Params(6, 9))


class EngineUnavailable(CasstoreError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"The pinned deflate engine {ENGINE_ID} is unavailable ({reason}); "
            f"install the '{_PACKAGE}==1.3.2' package to read re-created members"
        )


class StreamMismatch(ChecksumMismatch):
    """A re-created stream does not have the check recorded at ingest (a damaged manifest or blob)."""

    def __init__(self, expected: bytes, actual: bytes) -> None:
        super().__init__("a re-created deflate stream", f"check {expected.hex()}", f"check {actual.hex()}")


class _ZStream(ctypes.Structure):
    _fields_ = [
        ("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint), ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p), ("avail_out", ctypes.c_uint), ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p), ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p), ("zfree", ctypes.c_void_p), ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int), ("adler", ctypes.c_ulong), ("reserved", ctypes.c_ulong),
    ]


def _find_library() -> str:
    try:
        dist = importlib.metadata.distribution(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EngineUnavailable(f"package {_PACKAGE!r} is not installed") from None
    names = [str(f) for f in dist.files or ()]
    suffixes = (".so.1.3.2", ".1.3.2.dylib", "zlib1.dll", "z.dll")
    for suffix in suffixes:
        for name in names:
            if name.endswith(suffix):
                return str(dist.locate_file(name))
    raise EngineUnavailable(f"no libz shared library in {_PACKAGE}")


@functools.cache
def _lib() -> ctypes.CDLL:
    path = _find_library()
    mode = ctypes.RTLD_LOCAL | getattr(os, "RTLD_DEEPBIND", 0) if sys.platform.startswith("linux") else 0
    try:
        lib = ctypes.CDLL(path, mode=mode)
    except OSError as e:
        raise EngineUnavailable(f"cannot load {path}: {e}") from e
    lib.zlibVersion.restype = ctypes.c_char_p
    version = lib.zlibVersion()
    if version != _VERSION:
        raise EngineUnavailable(f"{path} reports zlib {version!r}, expected {_VERSION!r}")
    lib.deflateInit2_.argtypes = [ctypes.POINTER(_ZStream), ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.deflate.argtypes = [ctypes.POINTER(_ZStream), ctypes.c_int]
    lib.deflateEnd.argtypes = [ctypes.POINTER(_ZStream)]
    _self_test(lib)
    return lib


class Deflater:
    """Streaming raw-deflate compression with the pinned engine."""

    def __init__(self, params: Params, lib: ctypes.CDLL | None = None) -> None:
        self._lib = lib or _lib()
        self._strm = _ZStream()
        self._out = ctypes.create_string_buffer(_OUT)
        rc = self._lib.deflateInit2_(ctypes.byref(self._strm), params.level, 8, params.wbits, params.mem_level,
                                     params.strategy, _VERSION, ctypes.sizeof(_ZStream))
        if rc != _Z_OK:
            raise CasstoreError(f"deflateInit2 failed ({rc}) for {params}")
        self._open = True

    def _run(self, data: bytes | memoryview, flush: int) -> bytes:
        strm = self._strm
        buf = bytes(data) if isinstance(data, memoryview) else data
        keep = ctypes.c_char_p(buf)  # keeps the buffer alive while zlib reads it
        strm.next_in = ctypes.cast(keep, ctypes.c_void_p)
        strm.avail_in = len(buf)
        out = []
        while True:
            strm.next_out = ctypes.addressof(self._out)
            strm.avail_out = _OUT
            rc = self._lib.deflate(ctypes.byref(strm), flush)
            produced = _OUT - strm.avail_out
            if produced:
                out.append(ctypes.string_at(self._out, produced))
            if rc == _Z_STREAM_END:
                break
            if rc not in (_Z_OK, _Z_BUF_ERROR):
                raise CasstoreError(f"deflate failed ({rc})")
            if strm.avail_in == 0 and strm.avail_out != 0:
                break
        return b"".join(out)

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._run(data, _Z_NO_FLUSH) if len(data) else b""

    def flush(self) -> bytes:
        try:
            return self._run(b"", _Z_FINISH)
        finally:
            self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._lib.deflateEnd(ctypes.byref(self._strm))

    def __del__(self) -> None:
        self.close()


def deflater(params: Params) -> Deflater:
    return Deflater(params)


def deflate_chunks(params: Params, chunks: Iterable[bytes]) -> Iterator[bytes]:
    d = Deflater(params)
    try:
        for chunk in chunks:
            out = d.compress(chunk)
            if out:
                yield out
        yield d.flush()
    finally:
        d.close()


def stream_check(chunks: Iterable[bytes | memoryview]) -> bytes:
    """The per-stream check recorded in manifests: the first :data:`CHECK_SIZE` bytes of the
    BLAKE3 of the deflate stream."""
    h = blake3.blake3()
    for chunk in chunks:
        h.update(chunk)
    return h.digest()[:CHECK_SIZE]


def _accelerated(params: Params, plain: Iterable[bytes]) -> Iterator[bytes]:
    c = zlib.compressobj(params.level, zlib.DEFLATED, params.wbits, params.mem_level, params.strategy)
    for chunk in plain:
        if out := c.compress(chunk):
            yield out
    yield c.flush()


@functools.cache
def accelerator_available() -> bool:
    """Python's zlib reproduces the pinned engine's calibration output (checked once per process)."""
    h = blake3.blake3()
    data = _calibration_input()
    for params in CANDIDATES[:3]:
        h.update(b"".join(_accelerated(params, [data])))
    return h.hexdigest() == _EXPECTED_CALIBRATION


Accelerator = Callable[[Params, Iterable[bytes]], Iterable[bytes]]


def accelerate(params: Params, size: int, check: bytes | None, plain: Callable[[], Iterable[bytes]],
               accelerator: Accelerator | None = None, buffer_max: int = ACCEL_MAX) -> list[bytes] | None:
    """The stream re-created by the accelerator (default: Python's zlib, when it passes the
    calibration), in memory, if it has the recorded ``check``; None when there is no check, no
    accelerator, the stream is above ``buffer_max`` bytes, or the output differs. Thread-safe (the
    GIL is released while zlib works), so a reader may re-create several streams at once."""
    if accelerator is None and accelerator_available():
        accelerator = _accelerated
    if check is None or size > buffer_max or accelerator is None:
        return None
    out: list[bytes] = []
    n = 0
    for chunk in accelerator(params, plain()):
        n += len(chunk)
        if n > size:  # longer than the original: not the same stream; stop before it costs memory
            return None
        out.append(chunk)
    if n == size and stream_check(out) == check:
        return out
    return None


def pinned_stream(params: Params, size: int, check: bytes | None,
                  plain: Callable[[], Iterable[bytes]]) -> Iterator[bytes]:
    """The stream re-created by the pinned engine, streaming; the check, when recorded, is verified
    at its end."""
    h = blake3.blake3()
    for chunk in deflate_chunks(params, plain()):
        if check is not None:
            h.update(chunk)
        yield chunk
    if check is not None and h.digest()[:CHECK_SIZE] != check:
        raise StreamMismatch(check, h.digest()[:CHECK_SIZE])


def recreate(params: Params, size: int, check: bytes | None, plain: Callable[[], Iterable[bytes]],
             accelerator: Accelerator | None = None, buffer_max: int = ACCEL_MAX) -> Iterator[bytes]:
    """The deflate stream of ``size`` bytes that ``params`` make of the bytes ``plain()`` yields:
    :func:`accelerate` when it succeeds, else :func:`pinned_stream` (``plain`` is called again)."""
    out = accelerate(params, size, check, plain, accelerator, buffer_max)
    if out is not None:
        yield from out
    else:
        yield from pinned_stream(params, size, check, plain)


@functools.cache
def engine_available() -> bool:
    try:
        _lib()
    except EngineUnavailable:
        return False
    return True




def _calibration_input() -> bytes:
    words = [b"wheel", b"sdist", b"import", b"def ", b"return", b"self", b"\n", b"    ", b"(", b")", b"=", b"0x"]
    x = 12345
    out = bytearray()
    while len(out) < 20_000:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out += words[x % len(words)]
        if x % 7 == 0:
            out += bytes([x & 0xFF])
    return bytes(out)


def _calibrate(lib: ctypes.CDLL) -> str:
    h = blake3.blake3()
    data = _calibration_input()
    for params in CANDIDATES[:3]:
        d = Deflater(params, lib)
        h.update(d.compress(data) + d.flush())
    return h.hexdigest()


# zlib 1.3.2 (cmeel-zlib 1.3.2, x86_64 manylinux_2_28): recorded when the engine was pinned.
_EXPECTED_CALIBRATION = "c96a3f43c7a1546a113ad49c3538a267e86d5d86d0c99953af7bd95858d370ee"


def _self_test(lib: ctypes.CDLL) -> None:
    got = _calibrate(lib)
    if got != _EXPECTED_CALIBRATION:
        raise EngineUnavailable(f"calibration output differs (blake3:{got[:16]}...)")
