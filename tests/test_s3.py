"""The S3 object store against a real S3 server (Ceph radosgw, see the ``s3_url`` fixture).

The store contract itself runs on S3 through the ``store`` fixture (tests/test_store_contract.py);
these tests cover what only S3 has: conditional writes, multipart uploads, streaming and resumed reads,
the gc grace period, errors of an unreachable or misconfigured endpoint.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import Digest, NotFound, Store
from casstore.catalog.sqlite import Catalog
from casstore.digest import hash_bytes
from casstore.objects.s3 import MIN_PART_SIZE, InvalidS3Url, S3Error, S3Objects

from .conftest import fresh_s3_prefix, make_wheel

PART = MIN_PART_SIZE


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return parts._replace(query=urlencode(query)).geturl()


@pytest.fixture
def objects(s3_url: str) -> S3Objects:
    """An empty S3 object store with the smallest part size S3 allows."""
    return S3Objects.from_url(_with(fresh_s3_prefix(s3_url), part_size=str(PART)))


def _put(objects: S3Objects, data: bytes, key: Digest | None = None, step: int = 1 << 20) -> bool:
    w = objects.writer()
    for i in range(0, len(data), step):
        w.write(data[i:i + step])
    return w.commit(key or hash_bytes(data))


def _read(objects: S3Objects, key: Digest) -> bytes:
    with objects.open(key) as f:
        return f.read()


def _uploads(objects: S3Objects) -> list[dict[str, object]]:
    r = objects._client.list_multipart_uploads(Bucket=objects.bucket, Prefix=objects.prefix + "/")
    return list(r.get("Uploads", []))


def _tmp_objects(objects: S3Objects) -> list[str]:
    r = objects._client.list_objects_v2(Bucket=objects.bucket, Prefix=objects.prefix + "/tmp/")
    return [o["Key"] for o in r.get("Contents", [])]


# -- URLs ------------------------------------------------------------------------------------------


def test_from_url_reads_bucket_prefix_endpoint_and_part_size() -> None:
    o = S3Objects.from_url("s3://bkt/a/b/?endpoint=http://127.0.0.1:9&region=eu-west-1&part_size=8388608")
    assert (o.bucket, o.prefix, o.endpoint, o.part_size) == ("bkt", "a/b", "http://127.0.0.1:9", 8 << 20)
    assert o.describe(Digest("ab" * 32)) == f"s3://bkt/a/b/objects/{'ab' * 32}"
    assert S3Objects.from_url("s3://bkt").describe(Digest("ab" * 32)) == f"s3://bkt/objects/{'ab' * 32}"


@pytest.mark.parametrize("url, reason", [
    ("http://bkt/x", "scheme"),
    ("s3:///x", "no bucket"),
    ("s3://bkt/x?colour=red", "unknown parameter 'colour'"),
    ("s3://bkt/x?part_size=big", "not a number"),
    ("s3://bkt/x?part_size=1024", "at least"),
    ("s3://bkt/x?endpoint=127.0.0.1:7480", "http://"),
])
def test_bad_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidS3Url) as e:
        S3Objects.from_url(url)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_secrets_never_appear_in_messages() -> None:
    with pytest.raises(InvalidS3Url) as e:
        S3Objects.from_url("s3://bkt/x?secret_access_key=hunter2&colour=red")
    assert "hunter2" not in str(e.value)


# -- writes ----------------------------------------------------------------------------------------


def test_round_trip_small_blob_and_stat(objects: S3Objects) -> None:
    data = b"hello s3\n" * 100
    key = hash_bytes(data)
    assert not objects.exists(key)
    assert _put(objects, data) is True
    assert objects.exists(key)
    assert _read(objects, key) == data
    st_ = objects.stat(key)
    assert st_.size == len(data) and abs(st_.mtime - time.time()) < 300
    assert list(objects.keys()) == [key]
    assert _uploads(objects) == [] and _tmp_objects(objects) == []


def test_second_writer_of_an_existing_key_changes_nothing(objects: S3Objects) -> None:
    key = hash_bytes(b"first")
    assert _put(objects, b"first", key) is True
    assert _put(objects, b"second", key) is False  # write-once: the first bytes stay
    assert _read(objects, key) == b"first"


def test_concurrent_writers_of_one_key_never_overwrite_each_other(objects: S3Objects) -> None:
    """Conditional PUT (If-None-Match: *): of writers racing on one key exactly one wins, and the
    object holds the winner's bytes."""
    for round_ in range(5):
        key = hash_bytes(f"race {round_}".encode())
        payloads = [f"writer {i} of round {round_}".encode() * 50 for i in range(4)]
        writers = [objects.writer() for _ in payloads]
        for w, p in zip(writers, payloads):
            w.write(p)
        start = threading.Barrier(len(writers))
        results: list[bool | None] = [None] * len(writers)

        def commit(i: int, start: threading.Barrier = start, results: list[bool | None] = results,
                   writers: list = writers, key: Digest = key) -> None:
            start.wait()
            results[i] = writers[i].commit(key)

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(writers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1, results
        assert _read(objects, key) == payloads[results.index(True)]


def test_large_blob_streams_as_multipart_upload(objects: S3Objects) -> None:
    data = os.urandom(2 * PART + 12345)
    key = hash_bytes(data)
    w = objects.writer()
    for i in range(0, len(data), 1 << 20):
        w.write(data[i:i + (1 << 20)])
    # Before the commit the bytes are already on their way in parts, not held in memory.
    uploads = _uploads(objects)
    assert len(uploads) == 1 and str(uploads[0]["Key"]).startswith(objects.prefix + "/tmp/")
    assert w.commit(key) is True
    assert _read(objects, key) == data
    assert objects.stat(key).size == len(data)
    assert _uploads(objects) == [] and _tmp_objects(objects) == []
    assert _put(objects, data) is False  # a second large writer finds it there
    assert _uploads(objects) == [] and _tmp_objects(objects) == []


def test_large_blob_above_the_copy_limit_goes_by_multipart_copy(s3_url: str) -> None:
    """Objects above 5 GiB cannot be copied in one request; a tiny copy limit takes that path."""
    objects = S3Objects.from_url(_with(fresh_s3_prefix(s3_url), part_size=str(PART)), copy_limit=PART)
    data = os.urandom(2 * PART + 1)
    key = hash_bytes(data)
    assert _put(objects, data) is True
    assert _read(objects, key) == data
    before = objects.stat(key)
    time.sleep(1.1)  # Last-Modified has whole seconds
    assert _put(objects, data) is False  # ...and the refresh of an existing large object too
    assert objects.stat(key).mtime > before.mtime
    assert _read(objects, key) == data


def test_concurrent_large_writers_leave_one_readable_blob(objects: S3Objects) -> None:
    data = os.urandom(PART + 1000)
    key = hash_bytes(data)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(_put(objects, data))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Radosgw 16 ignores If-None-Match on copies, so both may win in the same instant; what must hold
    # is that the object is whole and no upload or tmp object is left behind.
    assert True in results
    assert _read(objects, key) == data
    assert _uploads(objects) == [] and _tmp_objects(objects) == []


def test_aborted_writer_leaves_nothing(objects: S3Objects) -> None:
    w = objects.writer()
    w.write(os.urandom(PART + 1))
    assert len(_uploads(objects)) == 1
    w.abort()
    assert _uploads(objects) == [] and _tmp_objects(objects) == [] and list(objects.keys()) == []


def test_clean_temp_aborts_uploads_a_crashed_writer_left(objects: S3Objects) -> None:
    w = objects.writer()
    w.write(os.urandom(PART + 1))  # then the process "dies": neither commit nor abort
    assert len(_uploads(objects)) == 1
    assert objects.clean_temp(time.time() - 3600) == 0  # young: a writer may still be at work
    assert objects.clean_temp(time.time() + 60) == 1
    assert _uploads(objects) == []


# -- gc ----------------------------------------------------------------------------------------------


def test_gc_grace_protects_a_blob_a_concurrent_put_just_claimed(s3_url: str, tmp_path: Path) -> None:
    """The race: a blob is unreferenced and old; a put finds it present (its commit returns False) but
    has not referenced it yet; gc runs in between. The commit refreshed Last-Modified, so gc keeps it."""
    now = [time.time()]
    store = Store(S3Objects.from_url(fresh_s3_prefix(s3_url)), Catalog.open(tmp_path / "c.sqlite"),
                  clock=lambda: now[0])
    fn, data = make_wheel()
    store.put(io.BytesIO(data), fn)
    store.rm(fn)
    blobs = list(store.objects.keys())
    old = {k: store.objects.stat(k).mtime for k in blobs}
    time.sleep(1.1)  # Last-Modified has whole seconds
    for k in blobs:  # the put's writes, each finding its blob present
        w = store.objects.writer()
        w.write(b"same digest, bytes not looked at")
        assert w.commit(k) is False
    new = {k: store.objects.stat(k).mtime for k in blobs}
    assert all(new[k] > old[k] for k in blobs)
    grace = 100.0
    now[0] = max(old.values()) + 0.5 + grace  # the cutoff lies between the old and the new times
    report = store.gc(grace=grace)
    assert report.removed == [] and report.kept_young == len(blobs)
    now[0] = max(new.values()) + 1 + grace  # later, still unreferenced: then it goes
    assert len(store.gc(grace=grace).removed) == len(blobs)
    assert list(store.objects.keys()) == []
    store.close()


# -- reads ---------------------------------------------------------------------------------------------


class _Proxy:
    """A TCP relay to the S3 server that counts the bytes it hands the client and can cut the first
    ``cut_times`` responses after ``cut_after`` bytes each (a network that fails mid-download)."""

    def __init__(self, upstream: tuple[str, int], cut_after: int | None = None, cut_times: int = 1) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.cut_times = cut_times
        self.sent = 0
        self.cuts = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            self._socks += [client, up]
            threading.Thread(target=self._pump, args=(client, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool) -> None:
        seen = 0
        try:
            while data := src.recv(65536):
                if (down and self.cut_after is not None and self.cuts < self.cut_times
                        and seen + len(data) > self.cut_after):
                    self.cuts += 1
                    dst.sendall(data[: self.cut_after - seen])
                    break
                dst.sendall(data)
                seen += len(data)
                if down:
                    self.sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._server.close()
        for s in self._socks:
            s.close()


@pytest.fixture
def via_proxy(objects: S3Objects) -> Iterator[tuple[S3Objects, _Proxy, str]]:
    """``objects``' bucket and prefix reached through a fresh :class:`_Proxy`."""
    assert objects.endpoint is not None
    ep = urlsplit(objects.endpoint)
    holder: list[_Proxy] = []

    def make(cut_after: int | None = None, cut_times: int = 1) -> tuple[S3Objects, _Proxy]:
        proxy = _Proxy((ep.hostname or "127.0.0.1", ep.port or 80), cut_after, cut_times)
        holder.append(proxy)
        url = f"s3://{objects.bucket}/{objects.prefix}?endpoint=http://127.0.0.1:{proxy.port}"
        creds = objects._client._request_signer._credentials
        return S3Objects.from_url(url, access_key_id=creds.access_key, secret_access_key=creds.secret_key), proxy

    yield make  # type: ignore[misc]
    for p in holder:
        p.close()


def test_open_streams_instead_of_downloading_the_whole_object(objects: S3Objects, via_proxy) -> None:
    data = os.urandom(40 << 20)
    key = hash_bytes(data)
    assert _put(objects, data, step=8 << 20)
    remote, proxy = via_proxy()
    with remote.open(key) as f:
        head = f.read(1 << 20)
        assert head == data[: 1 << 20]
        assert proxy.sent < 20 << 20  # only what socket buffers hold has crossed the network yet
        assert head + f.read() == data


@pytest.mark.parametrize("cuts", [1, 4])
def test_a_broken_download_resumes_with_a_range_request(objects: S3Objects, via_proxy, cuts: int) -> None:
    """The reader resumes from where the connection broke, once or again and again."""
    data = os.urandom(6 << 20)
    key = hash_bytes(data)
    assert _put(objects, data)
    remote, proxy = via_proxy(cut_after=1 << 20, cut_times=cuts)
    assert _read(remote, key) == data
    assert proxy.cuts == cuts


def test_store_reads_from_s3_are_verified(objects: S3Objects, tmp_path: Path) -> None:
    """A blob whose bytes do not match its digest fails the read (the Store's VerifyingReader)."""
    from casstore import ChecksumMismatch

    store = Store(objects, Catalog.open(tmp_path / "c.sqlite"))
    digest = store.put_blob(b"the real bytes", ref="x")
    objects.delete(digest)
    from casstore.format import compress as _compress

    assert _put(objects, _compress.compress(b"other bytes"), digest)
    with pytest.raises(ChecksumMismatch):
        store.get_blob(digest)
    store.close()


def test_missing_object_is_not_found(objects: S3Objects) -> None:
    key = Digest("0" * 64)
    with pytest.raises(NotFound):
        objects.open(key)
    with pytest.raises(NotFound):
        objects.stat(key)
    assert objects.exists(key) is False
    assert objects.delete(key) is False


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096) | st.sampled_from([b"", b"\x00" * 70000]))
def test_store_blob_round_trip_property(objects: S3Objects, tmp_path: Path, data: bytes) -> None:
    store = Store(objects, Catalog.open(tmp_path / "c.sqlite"))
    try:
        digest = store.put_blob(data)
        assert store.get_blob(digest) == data
    finally:
        store.close()


# -- errors ----------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_endpoint_down_is_one_clear_error_naming_the_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    objects = S3Objects.from_url(f"s3://bkt/p?endpoint={endpoint}&access_key_id=a&secret_access_key=b")
    with pytest.raises(S3Error) as e:
        objects.exists(Digest("1" * 64))
    msg = str(e.value)
    assert endpoint in msg and "connect" in msg.lower() and "\n" not in msg
    store = Store(objects, Catalog.open(tmp_path / "c.sqlite"))
    fn, data = make_wheel()
    with pytest.raises(S3Error):
        store.put(io.BytesIO(data), fn)
    assert store.ls() == []  # nothing half-done in the catalog
    store.close()


def test_missing_bucket_and_bad_credentials_are_named(s3_url: str) -> None:
    parts = urlsplit(s3_url)
    no_bucket = S3Objects.from_url(parts._replace(netloc="no-such-bucket-here").geturl())
    with pytest.raises(S3Error, match="bucket 'no-such-bucket-here' does not exist"):
        _put(no_bucket, b"x")
    bad = S3Objects.from_url(_with(s3_url, secret_access_key="wrong-secret"))
    with pytest.raises(S3Error) as e:
        bad.exists(Digest("2" * 64))
    assert "403" in str(e.value) and "wrong-secret" not in str(e.value)


_INHERITED: list[S3Objects] = []  # what a forked child finds in its copy of the parent's memory


def _child_put_and_read(i: int) -> tuple[bool, bool]:
    objects = _INHERITED[0]
    data = f"written by child {i}".encode()
    fresh = _put(objects, data)
    return fresh, _read(objects, hash_bytes(data)) == data


def test_a_store_used_before_fork_works_in_forked_children(objects: S3Objects) -> None:
    """Process pools fork on Linux: the children must get working clients of their own (this is why
    the module uses boto3, not obstore, whose runtime crashes a forked child)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    assert _put(objects, b"from the parent")  # the parent's client is made and used
    _INHERITED[:] = [objects]
    try:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_child_put_and_read, range(4)))
    finally:
        _INHERITED.clear()
    assert results == [(True, True)] * 4
    assert len(list(objects.keys())) == 5
    assert _read(objects, hash_bytes(b"from the parent")) == b"from the parent"
