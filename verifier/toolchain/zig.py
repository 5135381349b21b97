"""The one wrapper around Zig (the `ziglang` PyPI package): version, compiler wrapper scripts, env."""

from __future__ import annotations

import importlib.metadata
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import VerifierError
from .targets import Target

__all__ = ["ZIG_VERSION", "Zig", "find_zig"]

ZIG_VERSION = "0.17.1"  # pinned: part of every recipe

# Tools the wrappers provide, and the zig subcommand each runs.
_TOOLS = {"cc": "cc", "c++": "c++", "ar": "ar", "ranlib": "ranlib", "ld": "ld.lld"}
_NEEDS_TARGET = {"cc", "c++"}


@dataclass(frozen=True)
class Zig:
    exe: Path
    version: str

    @property
    def install_dir(self) -> Path:
        return self.exe.parent

    def write_wrappers(
        self,
        bin_dir: Path,
        target: Target,
        *,
        cache_dir: Path,
        prefix_map: dict[Path, str],
        local_cache_dir: Path | None = None,
        compile_flags: Sequence[str] = (),
        shared_flags: Sequence[str] = ("-shared",),
    ) -> dict[str, str]:
        """Write cc/c++/ar/ranlib/ld scripts into `bin_dir`; return the environment that selects them.

        The scripts exec the zig binary itself (no Python in between, so no PYTHONPATH from pip's
        isolation can reach it) with an explicit -target and -ffile-prefix-map for the build root,
        the zig install dir and the zig cache. `cache_dir` is zig's global cache (its runtime libraries),
        `local_cache_dir` the cache of the build's own objects (default: the global one). `compile_flags` go
        into the cc and c++ scripts (the target's own, e.g. `-DMS_WIN64`), `shared_flags` into LDSHARED (how an
        extension module is linked for the target: `-shared`, macOS `-shared -undefined dynamic_lookup`).
        """
        bin_dir.mkdir(parents=True, exist_ok=True)
        maps = dict(prefix_map)
        maps.setdefault(self.install_dir, "/zig")
        maps.setdefault(cache_dir, "/zig-cache")
        flags = [f"-ffile-prefix-map={src}={dst}" for src, dst in sorted(maps.items(), key=lambda kv: -len(str(kv[0])))]
        for tool, sub in _TOOLS.items():
            args = [str(self.exe), sub]
            if tool in _NEEDS_TARGET:
                args += ["-target", target.zig_triple, *flags, *compile_flags]
            script = bin_dir / tool
            script.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in args) + ' "$@"\n')
            script.chmod(0o755)
        cc, cxx = str(bin_dir / "cc"), str(bin_dir / "c++")
        return {
            "CC": cc,
            "CXX": cxx,
            "LDSHARED": " ".join([cc, *shared_flags]),
            "LDCXXSHARED": " ".join([cxx, *shared_flags]),
            "AR": str(bin_dir / "ar"),
            "RANLIB": str(bin_dir / "ranlib"),
            "LD": str(bin_dir / "ld"),
            "ZIG_GLOBAL_CACHE_DIR": str(cache_dir),
            "ZIG_LOCAL_CACHE_DIR": str(local_cache_dir or cache_dir),
        }


def find_zig(version: str = ZIG_VERSION) -> Zig:
    """The zig binary shipped by the installed `ziglang` package, which must be the pinned version."""
    try:
        dist = importlib.metadata.distribution("ziglang")
    except importlib.metadata.PackageNotFoundError:
        raise VerifierError(f"ziglang missing, pip install ziglang=={version}") from None
    if dist.version != version:
        raise VerifierError(f"ziglang {dist.version} installed, the recipe pins ziglang=={version}")
    exe = Path(str(dist.locate_file("ziglang/zig")))
    if not exe.is_file():
        raise VerifierError(f"ziglang {version} has no zig binary at {str(exe)!r}")
    return Zig(exe.resolve(), version)
