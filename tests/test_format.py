"""The recipe format: wheels and sdists split into deduplicated members, re-created bit-exactly."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from casstore import fsck
from casstore.digest import Digest
from casstore.errors import ChecksumMismatch
from casstore.format import recipe as _recipe
from casstore.format.deflate import ENGINE_ID, Params, engine_available
from casstore.objects.disk import DiskObjects
from casstore.store.store import Store

pytestmark = pytest.mark.skipif(not engine_available(), reason="pinned deflate engine missing")


def make_wheel(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED, level: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression, compresslevel=level) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buf.getvalue()


def make_sdist(files: dict[str, bytes], *, level: int = 9, mtime: int = 0) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            t.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=mtime, filename="") as g:
        g.write(raw.getvalue())
    return out.getvalue()


SHARED = {f"pkg/mod{i}.py": "".join(f"def f{i}_{j}(x):\n    return x * {j * 7919 % 1000}\n" for j in range(300)).encode()
          for i in range(5)}


def wheel_pair() -> tuple[bytes, bytes]:
    a = make_wheel({**SHARED, "pkg/_ext.so": bytes(range(256)) * 300 + b"linux"})
    b = make_wheel({**SHARED, "pkg/_ext.so": bytes(range(256)) * 300 + b"macos"})
    return a, b


def test_manifest_encoding_round_trips() -> None:
    d = Digest("ab" * 32)
    r = _recipe.Recipe(100, (_recipe.Lit(b"x" * 10), _recipe.Ref(d, 50),
                             _recipe.Deflate(Params(9, 8, -15, 0), 40, (_recipe.Lit(b"yy"), _recipe.Ref(d, 7)))))
    assert _recipe.decode(_recipe.encode(r)) == r
    assert r.refs() == {d}
    assert r.engine == ENGINE_ID


def test_manifest_from_the_future_is_refused() -> None:
    data = bytearray(_recipe.encode(_recipe.Recipe(0, ())))
    data[4] = 99
    with pytest.raises(_recipe.RecipeError, match="newer"):
        _recipe.decode(bytes(data))


def test_wheel_is_stored_as_a_recipe_and_round_trips() -> None:
    s = Store.memory()
    a, _ = wheel_pair()
    info = s.put(io.BytesIO(a), "pkg-1.0-py3-none-any.whl")
    assert info.layout == "recipe"
    assert s.get("pkg-1.0-py3-none-any.whl") == a


def test_sdist_gzip_layer_is_recreated_and_members_deduplicated() -> None:
    s = Store.memory()
    one = make_sdist({"pkg-1.0/a.py": SHARED["pkg/mod1.py"], "pkg-1.0/PKG-INFO": b"Name: pkg\n"})
    two = make_sdist({"pkg-1.1/a.py": SHARED["pkg/mod1.py"], "pkg-1.1/PKG-INFO": b"Name: pkg 1.1\n"}, mtime=5)
    s.put(io.BytesIO(one), "pkg-1.0.tar.gz")
    s.put(io.BytesIO(two), "pkg-1.1.tar.gz")
    assert s.info("pkg-1.0.tar.gz").layout == "recipe"
    assert s.get("pkg-1.0.tar.gz") == one and s.get("pkg-1.1.tar.gz") == two
    shared = set(s.catalog.blobs_of("file:pkg-1.0.tar.gz")) & set(s.catalog.blobs_of("file:pkg-1.1.tar.gz"))
    assert len(shared) == 1  # the a.py member


def test_two_wheels_share_member_blobs_and_rm_keeps_the_other(tmp_path: Path) -> None:
    s = Store.directory(tmp_path / "st", clock=lambda: 2e9)
    a, b = wheel_pair()
    s.put(io.BytesIO(a), "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    s.put(io.BytesIO(b), "pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl")
    blobs_a = set(s.catalog.blobs_of("file:pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"))
    blobs_b = set(s.catalog.blobs_of("file:pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl"))
    shared = blobs_a & blobs_b
    assert len(shared) == len(SHARED)  # every .py member once
    for d in shared:
        assert len(s.catalog.owners_of(d)) == 2
    stats = s.stats()
    assert stats.stored_bytes < stats.raw_bytes * 0.6
    s.rm("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    report = s.gc(grace=0)
    assert report.removed  # the linux .so and manifest went
    assert not set(report.removed) & {f"blake3:{d}" for d in shared}
    assert s.get("pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl") == b
    assert fsck(s).ok


def test_corrupt_member_blob_is_detected_on_read_and_by_fsck(tmp_path: Path) -> None:
    s = Store.directory(tmp_path / "st")
    a, _ = wheel_pair()
    name = "pkg-1.0-py3-none-any.whl"
    s.put(io.BytesIO(a), name)
    member = next(d for d in s.catalog.blobs_of(f"file:{name}")
                  if s.catalog.blob(d)["size"] == len(SHARED["pkg/mod2.py"]))
    assert isinstance(s.objects, DiskObjects)
    path = s.objects.path(Digest(member))
    path.chmod(0o644)
    from casstore.format import compress as _compress
    path.write_bytes(_compress.compress(b"tampered" + SHARED["pkg/mod2.py"][8:]))
    with pytest.raises(ChecksumMismatch, match=name):
        s.get(name)
    report = fsck(s)
    assert not report.ok
    assert report.damaged_files == [name]


def test_odd_zip_is_stored_whole_not_refused() -> None:
    s = Store.memory()
    data = b"PK\x03\x04" + b"\0" * 100  # a local header and nothing sensible after it
    info = s.put(io.BytesIO(data), "odd-1.0-py3-none-any.whl")
    assert info.layout == "blob"
    assert s.get("odd-1.0-py3-none-any.whl") == data


def test_fast_tier_keeps_deflate_bytes_but_still_dedups() -> None:
    s = Store.memory(tier="fast")
    a, b = wheel_pair()
    s.put(io.BytesIO(a), "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    s.put(io.BytesIO(b), "pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl")
    shared = set(s.catalog.blobs_of("file:pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")) & set(
        s.catalog.blobs_of("file:pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl"))
    assert len(shared) == len(SHARED)
    assert s.get("pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl") == b
