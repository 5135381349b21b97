"""Re-creating deflate streams on read with a faster engine, proven equal per stream.

Since manifest version 2 every re-created stream carries a check (8 bytes of the BLAKE3 of the
original deflate bytes, taken at ingest). On read, Python's zlib (the accelerator) may re-create a
stream only when its output has that check; otherwise the pinned engine does it."""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.digest import Digest
from casstore.errors import ChecksumMismatch
from casstore.format import deflate as _deflate
from casstore.format import recipe as _recipe
from casstore.format.deflate import CANDIDATES, Params, StreamMismatch, deflate_chunks, recreate, stream_check
from casstore.store.store import Store

pytestmark = pytest.mark.skipif(not _deflate.engine_available(), reason="pinned deflate engine missing")

TEXT = b"".join(b"def f%d(x):\n    return x * %d\n" % (i, i * 7919 % 1000) for i in range(4000))


def pinned(params: Params, data: bytes) -> bytes:
    return b"".join(deflate_chunks(params, [data]))


class Calls:
    """The real accelerator (or a real zlib at other settings), counting its calls."""

    def __init__(self, level: int | None = None) -> None:
        self.level = level
        self.n = 0

    def __call__(self, params: Params, plain: Iterable[bytes]) -> list[bytes]:
        self.n += 1
        c = zlib.compressobj(self.level or params.level, zlib.DEFLATED, params.wbits, params.mem_level,
                             params.strategy)
        return [c.compress(b"".join(plain)) + c.flush()]


def test_accelerator_passes_calibration_here() -> None:
    # Python's zlib on this machine reproduces the pinned engine (docs/format.md); if it stopped
    # doing so, reads would still work through the pinned engine, only slower.
    assert _deflate.accelerator_available()


@pytest.mark.parametrize("params", CANDIDATES[:3])
def test_accelerated_stream_is_the_pinned_stream(params: Params) -> None:
    want = pinned(params, TEXT)
    calls = Calls()
    got = b"".join(recreate(params, len(want), stream_check([want]), lambda: [TEXT], calls))
    assert got == want
    assert calls.n == 1


def test_a_differing_accelerator_falls_back_to_the_pinned_engine() -> None:
    params = Params(9)
    want = pinned(params, TEXT)
    other = Calls(level=1)  # a real deflate engine whose output differs (as zlib-ng's would)
    opened = []

    def plain() -> list[bytes]:
        opened.append(1)
        return [TEXT]

    got = b"".join(recreate(params, len(want), stream_check([want]), plain, other))
    assert got == want
    assert other.n == 1 and len(opened) == 2  # tried, rejected by the check, re-created by the pinned engine


def test_without_a_check_only_the_pinned_engine_runs() -> None:
    # Manifests of version 1 (and the golden store) have no checks: nothing proves the accelerator.
    want = pinned(Params(6), TEXT)
    calls = Calls()
    assert b"".join(recreate(Params(6), len(want), None, lambda: [TEXT], calls)) == want
    assert calls.n == 0


def test_streams_above_the_buffer_limit_go_to_the_pinned_engine() -> None:
    want = pinned(Params(6), TEXT)
    calls = Calls()
    got = b"".join(recreate(Params(6), len(want), stream_check([want]), lambda: [TEXT], calls, buffer_max=100))
    assert got == want and calls.n == 0


def test_a_wrong_check_fails_the_read() -> None:
    want = pinned(Params(6), TEXT)
    bad = bytes(8)
    with pytest.raises(StreamMismatch) as e:
        b"".join(recreate(Params(6), len(want), bad, lambda: [TEXT]))
    assert isinstance(e.value, ChecksumMismatch)
    assert "0000000000000000" in str(e.value)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=20_000) | st.text(max_size=5000).map(str.encode),
       params=st.sampled_from(CANDIDATES))
def test_property_recreate_equals_the_pinned_engine(data: bytes, params: Params) -> None:
    want = pinned(params, data)
    got = b"".join(recreate(params, len(want), stream_check([want]), lambda: [data[:7], data[7:]]))
    assert got == want


def test_manifest_version_2_carries_checks_and_version_1_still_reads() -> None:
    d = Digest("cd" * 32)
    checked = _recipe.Recipe(60, (_recipe.Lit(b"x" * 10), _recipe.Deflate(Params(6), 50, (_recipe.Ref(d, 70),),
                                                                         b"\x01" * 8)))
    data = _recipe.encode(checked)
    assert data[4] == 2
    assert _recipe.decode(data) == checked
    plain = _recipe.Recipe(60, (_recipe.Lit(b"x" * 10), _recipe.Deflate(Params(6), 50, (_recipe.Ref(d, 70),))))
    old = _recipe.encode(plain)
    assert old[4] == 1  # nothing needs version 2: readable by older casstores
    assert _recipe.decode(old) == plain
    with pytest.raises(_recipe.RecipeError, match="version 3 is newer"):
        _recipe.decode(old[:4] + bytes([3]) + old[5:])
    with pytest.raises(ValueError, match="8 bytes"):
        _recipe.encode(_recipe.Recipe(60, (_recipe.Deflate(Params(6), 50, (), b"\x01"),)))


def _deflates(segs: Iterable[_recipe.Segment]) -> list[_recipe.Deflate]:
    out = []
    for s in segs:
        if isinstance(s, _recipe.Deflate):
            out.append(s)
            out += _deflates(s.inner)
    return out


def test_put_records_checks_and_reads_back_bit_exactly(tmp_path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/a.py", TEXT)
        z.writestr("pkg/b.py", TEXT[::-1])
    wheel = buf.getvalue()
    with Store.directory(tmp_path / "s") as store:
        info = store.put(io.BytesIO(wheel), "pkg-1.0-py3-none-any.whl")
        assert info.layout == "recipe"
        row = store.catalog.file(info.filename)
        recipe = _recipe.decode(store.get_blob(Digest(str(row["manifest"]))))
        streams = _deflates(recipe.segments)
        assert len(streams) == 2 and all(s.check is not None and len(s.check) == 8 for s in streams)
        assert store.get(info.filename) == wheel


def _member_recipe(members: list[bytes], params: Params, *, bad: int | None = None
                   ) -> tuple[_recipe.Recipe, bytes, dict[Digest, bytes]]:
    """A recipe of literals and deflate streams over blobs (like a wheel's), and its bytes."""
    from casstore.digest import hash_bytes

    blobs: dict[Digest, bytes] = {}
    segs: list[_recipe.Segment] = []
    want = b""
    for i, data in enumerate(members):
        d = hash_bytes(data)
        blobs[d] = data
        stream = pinned(params, data)
        check = bytes(8) if i == bad else stream_check([stream])
        segs += [_recipe.Lit(b"head%d" % i), _recipe.Deflate(params, len(stream), (_recipe.Ref(d, len(data)),), check)]
        want += b"head%d" % i + stream
    return _recipe.Recipe(len(want), tuple(segs)), want, blobs


def _opener(blobs: dict[Digest, bytes]):  # type: ignore[no-untyped-def]
    return lambda d: io.BytesIO(blobs[d])


@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_render_ahead_in_threads_keeps_the_order(workers: int) -> None:
    members = [TEXT[i * 997:] + bytes([i]) * i for i in range(12)]
    recipe, want, blobs = _member_recipe(members, Params(6))
    threads = set()

    def open_blob(d: Digest) -> io.BytesIO:
        threads.add(threading.current_thread().name.startswith("casstore-deflate"))
        return io.BytesIO(blobs[d])

    assert b"".join(_recipe.render(recipe, open_blob, workers=workers, ahead_min=0)) == want
    assert threads == ({True} if workers > 1 else {False})


def test_render_ahead_fails_on_a_wrong_check() -> None:
    recipe, _, blobs = _member_recipe([TEXT, TEXT[::-1], TEXT[5:]], Params(6), bad=1)
    with pytest.raises(StreamMismatch):
        b"".join(_recipe.render(recipe, _opener(blobs), workers=2, ahead_min=0))


def test_render_ahead_closed_early_stops_its_threads() -> None:
    recipe, _, blobs = _member_recipe([TEXT] * 6, Params(9))
    it = _recipe.render(recipe, _opener(blobs), workers=2, ahead_min=0)
    assert next(it) == b"head0"
    it.close()  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name.startswith("casstore-deflate")]


class DictSink:
    def __init__(self) -> None:
        self.blobs: dict[Digest, bytes] = {}

    def store(self, chunks, digest: Digest, size: int, compressible: bool) -> _recipe.Ref:  # type: ignore[no-untyped-def]
        data = b"".join(chunks())
        assert len(data) == size
        self.blobs[digest] = data
        return _recipe.Ref(digest, size)


def _mixed_wheel() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(30):
            level = (6, 9, 1, 6)[i % 4]
            z.writestr(f"pkg/m{i}.py", TEXT[i * 1009:][:20_000] * (1 + i % 3), compresslevel=level)
        z.writestr("pkg/stored.bin", bytes(range(256)) * 40, compress_type=zipfile.ZIP_STORED)
        z.writestr("pkg/tiny.py", b"x = 1\n")
    return buf.getvalue()


@pytest.mark.parametrize("workers", [2, 3])
def test_split_in_threads_gives_the_same_recipe_as_in_order(tmp_path, workers: int) -> None:  # type: ignore[no-untyped-def]
    from casstore.format.split import Splitter

    wheel = _mixed_wheel()
    path = tmp_path / "w.whl"
    path.write_bytes(wheel)
    recipes = []
    for w in (1, workers):
        sink = DictSink()
        splitter = Splitter(sink, workers=w, threads_min=0)
        with open(path, "rb") as f:
            segs = splitter.split_zip(f, len(wheel))
        recipes.append((segs, splitter.stats))
        recipe = _recipe.Recipe(len(wheel), segs)
        assert b"".join(_recipe.render(recipe, _opener(sink.blobs))) == wheel
    assert recipes[0] == recipes[1]
    assert recipes[0][1]["recreated"] == 30  # every deflated member but tiny.py (inline); the stored one raw


def test_an_accelerator_running_past_the_stream_size_is_stopped_early() -> None:
    want = pinned(Params(6), TEXT)
    produced = []

    def runaway(params: Params, plain: Iterable[bytes]) -> Iterable[bytes]:
        for _ in range(10 * len(want) // 1000 + 10):
            produced.append(1)
            yield b"x" * 1000

    assert _deflate.accelerate(Params(6), len(want), stream_check([want]), lambda: [TEXT], runaway) is None
    assert len(produced) <= len(want) // 1000 + 1  # not buffered beyond the recorded size
    assert b"".join(recreate(Params(6), len(want), stream_check([want]), lambda: [TEXT], runaway)) == want
