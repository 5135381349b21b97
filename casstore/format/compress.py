"""The one place that imports zstandard."""

from __future__ import annotations

from typing import BinaryIO, Protocol

import zstandard

__all__ = ["DEFAULT_LEVEL", "Compressor", "compress", "decompress", "decompressing_reader"]

DEFAULT_LEVEL = 3


class Sink(Protocol):
    """Where compressed bytes go: anything with ``write`` (a file, an object store's writer)."""

    def write(self, data: bytes, /) -> object: ...


class Compressor:
    """Streaming zstd compression of one blob into a binary sink."""

    def __init__(self, sink: Sink, level: int = DEFAULT_LEVEL, size: int = -1) -> None:
        self._cctx = zstandard.ZstdCompressor(level=level, write_content_size=size >= 0)
        self._obj = self._cctx.compressobj(size=size)
        self._sink = sink
        self.written = 0

    def write(self, data: bytes | memoryview) -> None:
        out = self._obj.compress(data)
        if out:
            self._sink.write(out)
            self.written += len(out)

    def finish(self) -> None:
        out = self._obj.flush()
        if out:
            self._sink.write(out)
            self.written += len(out)


def decompressing_reader(source: BinaryIO) -> BinaryIO:
    return zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)


def compress(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


ZstdError = zstandard.ZstdError
