"""Build dependencies: fetched once into a local wheelhouse, locked by digest, installed offline; kept in a
store and exported from it (what a rebuild from the store alone needs)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from casstore import hash_file

from ..errors import DependenciesUnavailable, PinMismatch, VerifierError
from ..exec.command import run
from ..record import Pin, Recipe
from .native import keep_inputs

__all__ = [
    "FRONTEND", "default_wheelhouse", "fetch", "install", "keep_build_deps", "lock", "pip_says_conflict",
    "wheelhouse_from_store",
]

# The PEP 517 frontend is installed into every build venv next to the backend's requirements.
FRONTEND = ["build"]


def default_wheelhouse() -> Path:
    return Path(os.environ.get("VERIFIER_WHEELHOUSE", ".cache/wheelhouse")).absolute()


def _pip_env(home: Path) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def _pip(python: Path | None) -> list[str]:
    """This interpreter's pip, acting for `python`'s environment (its version and tags) when given."""
    return [sys.executable, "-m", "pip", *(["--python", str(python)] if python else [])]


# What pip prints when the requirements themselves contradict each other (ResolutionImpossible). Anything
# else that stops a download -- no network, an index without a matching file ("No matching distribution
# found", which is also what a pin of a version that never existed gives: pip's output cannot tell those
# apart) -- is taken as the machine's failure, not the package's.
_CONFLICT = ("ResolutionImpossible", "conflicting dependencies", "The conflict is caused by")


def pip_says_conflict(output: str) -> bool:
    """pip's output says the requirements contradict each other (pure)."""
    return any(m in output for m in _CONFLICT)


def fetch(requirements: Sequence[str], wheelhouse: Path, *, log: Path, python: Path | None = None) -> None:
    """Download wheels for `requirements` (+ the frontend) into `wheelhouse`, for `python` (default: this
    interpreter). Needs the network. DependenciesUnavailable when pip cannot; its `conflict` says whether
    pip found the requirements contradictory."""
    wheelhouse = wheelhouse.absolute()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    argv = [*_pip(python), "download", "--isolated", "--only-binary", ":all:",
            "--cert", "/etc/ssl/certs/ca-certificates.crt", "-d", str(wheelhouse), *FRONTEND, *requirements]
    r = run(argv, cwd=wheelhouse, env=_pip_env(wheelhouse), log=log, timeout=600)
    if not r.ok:
        conflict = pip_says_conflict(r.output)
        what = "build dependencies {!r} contradict each other" if conflict else "cannot download build dependencies {!r}"
        raise DependenciesUnavailable(f"{what.format(list(requirements))}: {_last_error(r.output)} (log: {log})",
                                      list(requirements), conflict, log)


def lock(requirements: Sequence[str], wheelhouse: Path, *, log: Path, python: Path | None = None) -> list[Pin]:
    """Resolve `requirements` (+ the frontend) offline against `wheelhouse` for `python` (default: this
    interpreter); pin every file by digest."""
    wheelhouse = wheelhouse.absolute()
    report = log.with_suffix(".report.json")
    argv = [*_pip(python), "install", "--isolated", "--dry-run", "--ignore-installed", "--no-index",
            "--find-links", str(wheelhouse), "--only-binary", ":all:", "--quiet", "--report", str(report),
            *FRONTEND, *requirements]
    r = run(argv, cwd=wheelhouse, env=_pip_env(wheelhouse), log=log, timeout=300)
    if not r.ok:  # offline, against the wheelhouse: what it lacks, never the package's fault (fetch judges that)
        raise DependenciesUnavailable(
            f"cannot resolve build dependencies {list(requirements)!r} from {str(wheelhouse)!r}: "
            f"{_last_error(r.output)} (log: {log})", list(requirements), False, log)
    pins = []
    for item in json.loads(report.read_text())["install"]:
        path = Path(unquote(urlparse(item["download_info"]["url"]).path))
        digests = hash_file(path)
        meta = item["metadata"]
        pins.append(Pin(meta["name"], meta["version"], path.name, digests.sha256(), str(digests.digest())))
    return sorted(pins, key=lambda p: p.name.lower())


def _last_error(output: str) -> str:
    """pip's last ERROR line (what it gave up on), else its last line."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1][:300]


def install(pins: Sequence[Pin], wheelhouse: Path, python: Path, *, log: Path) -> None:
    """Check every pinned file's digest, then install exactly those files (no resolver) into `python`'s env."""
    wheelhouse = wheelhouse.absolute()
    files = []
    for p in pins:
        path = wheelhouse / p.filename
        if not path.is_file():
            raise VerifierError(f"build dependency {p.filename!r} is not in the wheelhouse {str(wheelhouse)!r}")
        digests = hash_file(path)
        sha, b3 = digests.sha256(), str(digests.digest())
        if b3 != p.blake3 or sha != p.sha256:
            raise PinMismatch(path, p.blake3, b3)
        files.append(str(path))
    argv = [sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated", "--no-index",
            "--no-deps", "--quiet", *files]
    r = run(argv, cwd=python.parent, env=_pip_env(python.parent), log=log, timeout=600)
    if not r.ok:
        raise VerifierError(f"cannot install build dependencies into {str(python)!r} (log: {log})")


def keep_build_deps(store: Any, recipe: Recipe, wheelhouse: Path, natives: Path | None = None) -> None:
    """Put every pinned build dependency of `recipe` into `store` (a no-op for those already there), and its
    native inputs (from `natives`, default .cache/nativelibs), owned by the recipe (`native.keep_inputs`)."""
    for pin in recipe.build_deps:
        if not store.has(pin.filename):
            store.put(wheelhouse / pin.filename)
    keep_inputs(store, recipe, natives)


def wheelhouse_from_store(store: Any, recipe: Recipe, dest: Path) -> Path:
    """Export `recipe`'s pinned build dependencies from `store` into the directory `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for pin in recipe.build_deps:
        target = dest / pin.filename
        if target.is_file():
            continue
        try:
            store.export(pin.filename, target)
        except Exception as e:  # casstore's errors are not ours to import
            raise VerifierError(f"build dependency {pin.filename!r} is not in the store: {e}") from e
    return dest
