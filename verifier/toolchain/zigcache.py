"""The zig caches a build sees: a private copy of a trusted one, never the shared directory itself.

Zig compiles its runtime libraries (compiler_rt, glibc's libc_nonshared, libc++, libc++abi, libunwind) into
its global cache the first time a link needs them, and links them into every extension module. Those
sub-compilations do not get the build's `-ffile-prefix-map` flags, so their debug information names the
working directory of the link that compiled them (DW_AT_comp_dir): with a cache shared by builds, a wheel
depended on which build filled the cache first, and a cold-cache build (this build's own directory) never
matched a warm one. And a shared cache writable by builds let one untrusted sdist plant objects that a later
build of another package links.

So the runtime libraries are compiled by a trusted warm-up, from `/` (the same working directory on every
host), before any untrusted code runs:
- the shared cache holds one warmed directory per (zig version, target, languages, warm-up spec), made once
  under a lock and published by an atomic rename; no build can write to it;
- a warm build gets a private copy of it; a cold build gets a fresh directory warmed from scratch the same
  way, so the two variations compare the cache contents as well;
- a build's own objects go to a local cache in its build root.

Zig keys the runtime by the optimization mode of the link: `-O1` to `-O3` share ReleaseFast; a link with no
`-O` (or `-O0`) is Debug and takes a Debug compiler_rt and the UBSan runtime — setuptools links with a bare
`cc -shared`, so that is the common case. Both are warmed. A runtime variant the warm-up does not make
(`-Os`, ReleaseSmall) is compiled by the build itself, with its own working directory: that shows up as
embedded paths, never silently."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import VerifierError
from ..exec.command import run
from .targets import Target
from .zig import Zig

__all__ = ["RUNTIME_LINK_FLAGS", "RUNTIME_MODES", "WARM_SOURCES", "private_cache", "runtime_languages", "trusted_cache", "warm"]

# What the warm-up links, per language: a shared library, as an extension module is.
WARM_SOURCES = {
    "c": ("warm.c", "int casstore_warm(int x) { return x * 2; }\n"),
    "c++": ("warm.cpp", ("#include <string>\n#include <vector>\n#include <stdexcept>\n"
            "int casstore_warm(int n) {\n"
            "    std::vector<std::string> v(n, \"x\");\n"
            "    if (n < 0) throw std::runtime_error(\"negative\");\n"
            "    return (int)v.size();\n}\n")),
}
# zig: -O1, -O2, -O3 all build the runtime libraries in ReleaseFast; "" is a link with no -O flag (Debug)
RUNTIME_MODES = ("-O2", "")
# Link flags that key the runtime too, per target OS: Windows extension modules are linked stripped (`-s`,
# toolchain/foreign.py), and a stripped link takes a stripped mingw-w64 C runtime (~440 objects, a minute).
RUNTIME_LINK_FLAGS: dict[str, tuple[tuple[str, ...], ...]] = {"windows": ((), ("-s",))}
_CANONICAL_CWD = Path("/")
_COMPLETE = ".casstore-warmed"


def runtime_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """Which runtimes a build of an sdist with these source languages links: C always, C++ with C++."""
    return ("c", "c++") if "c++" in set(languages) else ("c",)


def _spec(zig: Zig, target: Target, languages: Sequence[str]) -> str:
    spec = {"zig": zig.version, "target": target.zig_triple, "languages": list(languages),
            "modes": list(RUNTIME_MODES), "sources": [WARM_SOURCES[lang] for lang in languages],
            **({"link": [list(f) for f in RUNTIME_LINK_FLAGS[target.os]]} if target.os in RUNTIME_LINK_FLAGS else {})}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def warm(zig: Zig, target: Target, cache: Path, languages: Sequence[str], log: Path) -> Path:
    """Compile zig's runtime libraries for `target` into the global cache `cache` from `/`. Trusted code only
    (our sources, the pinned zig); raises VerifierError when zig fails."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zig-warm-") as scratch:
        work = Path(scratch)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LC_ALL": "C.UTF-8", "TMPDIR": str(work),
               "ZIG_GLOBAL_CACHE_DIR": str(cache), "ZIG_LOCAL_CACHE_DIR": str(work / "local")}
        for lang in languages:
            name, text = WARM_SOURCES[lang]
            (work / name).write_text(text)
            for mode, link in ((m, f) for m in RUNTIME_MODES for f in RUNTIME_LINK_FLAGS.get(target.os, ((),))):
                driver = "c++" if lang == "c++" else "cc"
                argv = [str(zig.exe), driver, "-target", target.zig_triple, *([mode] if mode else []), "-g",
                        "-fPIC", "-shared", *link, str(work / name), "-o",
                        str(work / f"warm-{lang}{mode or '-debug'}{''.join(link)}.so")]
                r = run(argv, cwd=_CANONICAL_CWD, env=env, log=log, timeout=1800, memory=None, processes=None)
                if not r.ok:
                    raise VerifierError(f"zig cannot build its {lang} runtime for {target.name} (log: {log})")
    return cache


def trusted_cache(zig: Zig, target: Target, base: Path, languages: Sequence[str], log: Path) -> Path:
    """The shared, warmed cache for `target` and `languages` under `base` (made now if missing). Builds
    never see this directory itself: they get a `private_cache` copy of it."""
    root = base.absolute() / "runtime"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{zig.version}-{target.zig_triple}-{'+'.join(languages)}-{_spec(zig, target, languages)}"
    if (final / _COMPLETE).is_file():
        return final
    with open(root / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / _COMPLETE).is_file():  # another process made it while this one waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
        try:
            warm(zig, target, tmp, languages, log)
            (tmp / _COMPLETE).write_text(json.dumps({"target": target.name, "languages": list(languages)}) + "\n")
            if final.exists():  # an incomplete leftover of an interrupted warm-up
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def private_cache(trusted: Path, dest: Path) -> Path:
    """A copy of `trusted` at `dest`, the build's own: what the build writes there reaches no other build."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(trusted, dest, symlinks=True, ignore=shutil.ignore_patterns(_COMPLETE))
    return dest
