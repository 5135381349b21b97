"""Hypothesis: any bytes put come back identical, under any valid name, in either store."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import Digest, Store, fsck

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci")

names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}([._][A-Za-z0-9]{1,5}){0,2}", fullmatch=True)
versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)


@given(payload=st.binary(max_size=300_000), name=names, version=versions, sdist=st.booleans())
@settings(max_examples=60)
def test_any_bytes_round_trip_in_memory_store(payload: bytes, name: str, version: str, sdist: bool) -> None:
    store = Store.memory()
    if sdist:
        fn, data = f"{name}-{version}.tar.gz", b"\x1f\x8b" + payload
    else:
        fn, data = f"{name}-{version}-py3-none-any.whl", b"PK\x03\x04" + payload
    info = store.put(io.BytesIO(data), fn)
    assert store.get(fn) == data
    assert store.get(info.blake3) == data
    assert info.size == len(data)


@given(blobs=st.lists(st.binary(max_size=50_000), min_size=1, max_size=8))
@settings(max_examples=25)
def test_plain_blobs_round_trip_on_disk(tmp_path_factory, blobs: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    store = Store.directory(tmp_path_factory.mktemp("s") / "store")
    digests = [store.put_blob(b, ref=f"t:{i}") for i, b in enumerate(blobs)]
    for d, b in zip(digests, blobs):
        assert store.get_blob(d) == b
    assert len(set(digests)) == len(set(blobs))
    assert fsck(store).ok


@given(hexpart=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_digest_text_round_trip(hexpart: str) -> None:
    d = Digest(hexpart)
    assert Digest.parse(str(d)) == d
