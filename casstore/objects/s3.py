"""Objects on S3-compatible object storage (AWS S3, Ceph radosgw, MinIO...), through boto3.

The one module that talks to S3. boto3 rather than obstore: obstore needs 2-4x less time per request
(measured against radosgw), but its Rust runtime does not survive a fork (a child that uses it
crashes), and casstore's stores are used from process pools; boto3 clients are remade per process.
Layout below ``s3://BUCKET/PREFIX``:

- ``PREFIX/objects/<64 hex>``: one object per blob, written once;
- ``PREFIX/tmp/<random>``: large blobs while they are uploaded (multipart), before their digest is known.

A blob up to ``part_size`` is one conditional PUT (``If-None-Match: *``): of two writers of the same
digest exactly one creates the object, the other gets 412 and its commit returns False. A larger blob is
streamed as a multipart upload to a ``tmp/`` key (one part uploading while the next fills), then copied server-side
to its digest's key with ``If-None-Match: *``. A commit that finds its object already there refreshes
the object's Last-Modified (a copy onto itself with new metadata), as the disk store refreshes a file's
mtime, so that ``gc``'s grace period protects a blob a concurrent put has just claimed.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, NoReturn
from urllib.parse import parse_qsl, urlsplit

from ..digest import Digest
from ..errors import CasstoreError, NotFound
from .base import ObjectStat

__all__ = ["DEFAULT_PART_SIZE", "MIN_PART_SIZE", "InvalidS3Url", "S3Error", "S3Objects"]

MIN_PART_SIZE = 5 << 20  # S3's smallest part (all but the last)
DEFAULT_PART_SIZE = 8 << 20  # 10,000 parts: blobs up to 78 GiB
COPY_LIMIT = 5 << 30  # the largest object a single CopyObject may copy
_RESUMES = 3  # times a broken download is resumed with a range request
_URL_PARAMS = ("endpoint", "region", "access_key_id", "secret_access_key", "session_token", "part_size",
               "addressing_style")


class S3Error(CasstoreError):
    """An S3 request failed: the endpoint is down, the bucket is missing, access is denied..."""

    def __init__(self, where: str, action: str, reason: str, status: int | None = None) -> None:
        self.where = where
        self.action = action
        self.reason = reason
        self.status = status  # the HTTP status, when the server answered
        super().__init__(f"S3 {where}: {action} failed: {reason}")


class InvalidS3Url(CasstoreError, ValueError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Invalid S3 store URL ({reason}): {url!r}")


def _redact(url: str) -> str:
    """The URL without its secret, for messages."""
    parts = urlsplit(url)
    query = "&".join(f"{k}={'***' if k in ('secret_access_key', 'session_token') else v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return parts._replace(query=query).geturl()


def _boto() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        import botocore.config  # type: ignore[import-untyped]
        import botocore.exceptions  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - the s3 extra is part of the test extra
        raise CasstoreError(f"S3 object storage needs boto3 ({e}): pip install 'casstore[s3]'") from None
    return boto3, botocore



class _S3Writer:
    """Buffers up to one part; past ``part_size`` the blob goes up as a multipart upload to a tmp key,
    one part in flight while the next fills (at most about three parts in memory)."""

    def __init__(self, store: S3Objects) -> None:
        self._store = store
        self._buf = bytearray()
        self._tmp: str | None = None
        self._upload: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: Future[dict[str, Any]] | None = None

    def write(self, data: bytes | memoryview) -> None:
        self._buf += data
        self._size += len(data)
        if len(self._buf) >= self._store.part_size:
            self._send_part()

    def _send_part(self) -> None:
        s = self._store
        if self._upload is None:
            self._tmp = f"{s._tmp_prefix}{uuid.uuid4().hex}"
            with s._errors("starting a multipart upload", self._tmp):
                self._upload = s._client.create_multipart_upload(Bucket=s.bucket, Key=self._tmp)["UploadId"]
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casstore-s3-part")
        self._wait()
        body = bytes(self._buf)
        self._buf.clear()
        assert self._pool is not None
        self._inflight = self._pool.submit(self._upload_part, len(self._parts) + 1, body)

    def _upload_part(self, number: int, body: bytes) -> dict[str, Any]:
        s = self._store
        with s._errors(f"uploading part {number}", self._tmp):
            etag = s._client.upload_part(Bucket=s.bucket, Key=self._tmp, UploadId=self._upload,
                                         PartNumber=number, Body=body)["ETag"]
        return {"PartNumber": number, "ETag": etag}

    def _wait(self) -> None:
        """Wait for the part in flight; its error, if any, is raised here."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            self._parts.append(inflight.result())

    def commit(self, key: Digest) -> bool:
        s = self._store
        dest = s._key(key)
        if self._upload is None:
            return s._create(dest, bytes(self._buf), key)
        try:
            if self._buf:
                self._send_part()
            self._wait()
            with s._errors("completing a multipart upload", self._tmp):
                s._client.complete_multipart_upload(Bucket=s.bucket, Key=self._tmp, UploadId=self._upload,
                                                    MultipartUpload={"Parts": self._parts})
            self._upload = None
            if s.exists(key):  # cheap check first: most copies of a popular blob stop here
                s._touch(dest, self._size)
                return False
            assert self._tmp is not None
            return s._copy(self._tmp, dest, self._size, key)
        finally:
            self._cleanup()

    def abort(self) -> None:
        self._buf = bytearray()
        self._cleanup()

    def _cleanup(self) -> None:
        """Best effort: what is left behind (a crash, the endpoint gone) goes at ``clean_temp``."""
        s = self._store
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._wait()
            self._pool.shutdown(wait=True)
            self._pool = None
        with contextlib.suppress(Exception):
            if self._upload is not None:
                s._client.abort_multipart_upload(Bucket=s.bucket, Key=self._tmp, UploadId=self._upload)
                self._upload = None
        with contextlib.suppress(Exception):
            if self._tmp is not None:
                s._client.delete_object(Bucket=s.bucket, Key=self._tmp)
                self._tmp = None


class _S3Reader(io.RawIOBase):
    """One streaming GET; a connection that breaks is resumed with a range request from where it broke,
    as long as the object's ETag is still the same (content-addressed objects do not change)."""

    def __init__(self, store: S3Objects, key: str, what: Digest) -> None:
        self._store = store
        self._key = key
        self._what = what
        self._pos = 0
        self._body, self._etag, self.size = self._get(None)

    def _get(self, start: int | None) -> tuple[Any, str, int]:
        s = self._store
        kw = {} if start is None else {"Range": f"bytes={start}-"}
        with s._errors("reading", self._what):
            r = s._client.get_object(Bucket=s.bucket, Key=self._key, **kw)
        size = int(r["ContentLength"]) + (start or 0)
        return r["Body"], r.get("ETag", ""), size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        _, botocore = _boto()
        broken = (botocore.exceptions.BotoCoreError, ConnectionError, OSError)
        for attempt in range(_RESUMES + 1):
            try:
                data = self._body.read(len(buffer))
                if not data and self._pos < self.size:
                    raise ConnectionError(f"stream ended at byte {self._pos} of {self.size}")
                break
            except broken as e:
                if attempt == _RESUMES:
                    self._store._fail("reading", self._what, f"download broke {attempt + 1} times ({e})")
                with contextlib.suppress(Exception):
                    self._body.close()
                self._body, etag, _ = self._get(self._pos)
                if etag != self._etag:
                    self._store._fail("reading", self._what, "the object changed while it was read")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


class S3Objects:
    """Blobs as objects ``PREFIX/objects/<hex>`` in an S3 bucket. Open one with :meth:`from_url`.

    Credentials: ``access_key_id``/``secret_access_key`` (and ``session_token``) given here or in the
    URL, else boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``...).
    """

    latency_bound = True  # every read is a round trip: Store fetches a recipe's blobs concurrently

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 session_token: str | None = None, part_size: int = DEFAULT_PART_SIZE,
                 addressing_style: str | None = None, copy_limit: int = COPY_LIMIT) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size {part_size} is below S3's minimum part size {MIN_PART_SIZE}")
        boto3, botocore = _boto()
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.part_size = part_size
        self.copy_limit = copy_limit
        base = f"{self.prefix}/" if self.prefix else ""
        self._obj_prefix = f"{base}objects/"
        self._tmp_prefix = f"{base}tmp/"
        self._where = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint}" if endpoint else "")
        config = botocore.config.Config(
            region_name=region,
            s3={"addressing_style": addressing_style or ("path" if endpoint else "auto")},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10, read_timeout=60, max_pool_connections=32,
            # BLAKE3 verifies every read; the extra CRC headers of new boto3 confuse older S3 servers.
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        )
        session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                        aws_session_token=session_token)
        self._session = session
        self._config = config
        self._boto_client: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._ClientError = botocore.exceptions.ClientError
        self._BotoCoreError = botocore.exceptions.BotoCoreError
        self._NoCredentials = (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> S3Objects:
        """``s3://BUCKET[/PREFIX][?endpoint=URL&region=R&access_key_id=K&secret_access_key=S&part_size=N]``.

        ``endpoint``: the S3 server (default: AWS); ``addressing_style``: ``path`` (default with an
        endpoint) or ``virtual``; ``part_size``: bytes per multipart part (default 8 MiB, at least 5 MiB).
        """
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise InvalidS3Url(_redact(url), "the scheme must be s3://")
        if not parts.netloc:
            raise InvalidS3Url(_redact(url), "no bucket name")
        params: dict[str, Any] = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            if k not in _URL_PARAMS:
                raise InvalidS3Url(_redact(url), f"unknown parameter {k!r}, expected one of {', '.join(_URL_PARAMS)}")
            params[k] = v
        if "part_size" in params:
            try:
                params["part_size"] = int(params["part_size"])
            except ValueError:
                raise InvalidS3Url(_redact(url), f"part_size {params['part_size']!r} is not a number") from None
            if params["part_size"] < MIN_PART_SIZE:
                raise InvalidS3Url(_redact(url), f"part_size must be at least {MIN_PART_SIZE} (5 MiB)")
        if "endpoint" in params and urlsplit(params["endpoint"]).scheme not in ("http", "https"):
            raise InvalidS3Url(_redact(url), "endpoint must be an http:// or https:// URL")
        params.update(overrides)
        return cls(parts.netloc, parts.path, **params)

    def __repr__(self) -> str:
        return f"S3Objects({self._where!r})"

    # -- errors -------------------------------------------------------------------------------

    def _fail(self, action: str, what: object, reason: str, status: int | None = None) -> NoReturn:
        raise S3Error(self._where, f"{action} {what}", reason, status)

    @contextlib.contextmanager
    def _errors(self, action: str, what: object) -> Iterator[None]:
        """Turn what boto3 raises into one-line casstore errors naming the endpoint."""
        try:
            yield
        except self._ClientError as e:
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") and isinstance(what, Digest):
                raise NotFound(f"object {what}") from None
            if code == "NoSuchBucket":
                self._fail(action, what, f"bucket {self.bucket!r} does not exist")
            message = err.get("Message") or ""
            self._fail(action, what, f"{code or 'error'} (HTTP {status}){': ' + message if message else ''}",
                       status)
        except self._NoCredentials as e:
            self._fail(action, what, f"{e}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                       "access_key_id= and secret_access_key= in the store URL")
        except self._BotoCoreError as e:
            self._fail(action, what, str(e))

    def _forked(self) -> None:
        """A client (its connection pool) is per process: a forked child makes its own."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._boto_client = None

    @property
    def _client(self) -> Any:
        """The boto3 client, made on first use."""
        with self._lock:
            self._forked()
            if self._boto_client is None:
                self._boto_client = self._session.client("s3", endpoint_url=self.endpoint, config=self._config)
            return self._boto_client

    # -- writing ------------------------------------------------------------------------------

    def _key(self, key: Digest) -> str:
        return f"{self._obj_prefix}{key.hex}"

    def _create(self, dest: str, data: bytes, key: Digest) -> bool:
        """One conditional PUT; False (and the object's Last-Modified refreshed) if it already exists."""
        for attempt in range(5):
            try:
                with self._errors("writing", key):
                    self._client.put_object(Bucket=self.bucket, Key=dest, Body=data, IfNoneMatch="*")
                return True
            except S3Error as e:
                if e.status == 412:  # someone else wrote it: write-once holds
                    self._touch(dest, len(data))
                    return False
                if e.status != 409 or attempt == 4:  # 409: a concurrent conditional write in flight
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def _copy(self, src: str, dest: str, size: int, key: Digest) -> bool:
        """Server-side copy of ``src`` to a new ``dest`` (If-None-Match: *); False if ``dest`` exists."""
        try:
            with self._errors("writing", key):
                if size <= self.copy_limit:
                    self._client.copy_object(Bucket=self.bucket, Key=dest, IfNoneMatch="*",
                                             CopySource={"Bucket": self.bucket, "Key": src})
                else:
                    self._copy_parts(src, dest, size, {}, if_none_match=True)
        except S3Error as e:
            if e.status == 412:
                self._touch(dest, size)
                return False
            raise
        return True

    def _copy_parts(self, src: str, dest: str, size: int, metadata: dict[str, str], *,
                    if_none_match: bool) -> None:
        """A multipart server-side copy, for objects above the 5 GiB a single copy allows."""
        c = self._client
        upload = c.create_multipart_upload(Bucket=self.bucket, Key=dest, Metadata=metadata)["UploadId"]
        try:
            parts = []
            step = max(self.part_size, -(-size // 10000))  # S3 allows at most 10,000 parts
            for number, start in enumerate(range(0, size, step), 1):
                r = c.upload_part_copy(Bucket=self.bucket, Key=dest, UploadId=upload, PartNumber=number,
                                       CopySource={"Bucket": self.bucket, "Key": src},
                                       CopySourceRange=f"bytes={start}-{min(start + step, size) - 1}")
                parts.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
            extra = {"IfNoneMatch": "*"} if if_none_match else {}
            c.complete_multipart_upload(Bucket=self.bucket, Key=dest, UploadId=upload,
                                        MultipartUpload={"Parts": parts}, **extra)
        except BaseException:
            with contextlib.suppress(Exception):
                c.abort_multipart_upload(Bucket=self.bucket, Key=dest, UploadId=upload)
            raise

    def _touch(self, dest: str, size: int) -> None:
        """Refresh Last-Modified of an existing object: the S3 form of the disk store's ``utime``.
        A copy onto itself must change something: the metadata gets the time of the touch."""
        meta = {"casstore-touched": f"{time.time():.3f}"}
        try:
            with self._errors("refreshing", dest):
                if size <= self.copy_limit:
                    self._client.copy_object(Bucket=self.bucket, Key=dest, MetadataDirective="REPLACE",
                                             Metadata=meta, CopySource={"Bucket": self.bucket, "Key": dest})
                else:
                    self._copy_parts(dest, dest, size, meta, if_none_match=False)
        except S3Error as e:
            if e.status == 404:
                return  # a gc removed it meanwhile: the put's presence check after its commit notices
            raise

    # -- the ObjectStore protocol ---------------------------------------------------------------

    def writer(self) -> _S3Writer:
        return _S3Writer(self)

    def exists(self, key: Digest) -> bool:
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    def stat(self, key: Digest) -> ObjectStat:
        with self._errors("looking up", key):
            r = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectStat(int(r["ContentLength"]), r["LastModified"].timestamp())

    def open(self, key: Digest) -> BinaryIO:
        """A stream of the object's bytes (one GET, resumed by range requests if it breaks)."""
        return io.BufferedReader(_S3Reader(self, self._key(key), key), buffer_size=1 << 20)

    def delete(self, key: Digest) -> bool:
        if not self.exists(key):
            return False
        with self._errors("deleting", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        return True

    def keys(self) -> Iterator[Digest]:
        """Every blob, in digest order (S3 lists keys sorted)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._obj_prefix)
        with self._errors("listing", self._obj_prefix):
            for page in pages:
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(self._obj_prefix):]
                    try:
                        yield Digest(name)
                    except ValueError:
                        continue

    def clean_temp(self, older_than: float) -> int:
        """Abort multipart uploads and delete tmp objects that writers left behind (a crash)."""
        removed = 0
        c = self._client
        with self._errors("cleaning", self._tmp_prefix):
            for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                           Prefix=self._tmp_prefix):
                for up in page.get("Uploads", ()):
                    if up["Initiated"].timestamp() < older_than:
                        with contextlib.suppress(self._ClientError):
                            c.abort_multipart_upload(Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
                            removed += 1
            for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._tmp_prefix):
                for obj in page.get("Contents", ()):
                    if obj["LastModified"].timestamp() < older_than:
                        c.delete_object(Bucket=self.bucket, Key=obj["Key"])
                        removed += 1
        return removed

    def describe(self, key: Digest) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Nothing to gather: each object is durable and visible when its commit returns."""
        yield


