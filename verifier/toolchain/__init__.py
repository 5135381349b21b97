"""What a build is for and what it builds with: targets, CPython versions, Zig, Debian sysroots (the
target's headers and Python), the musl CPython built here, cross-build sysconfig and ELF fix-ups."""

from .pythons import HOST_PYTHON, PYTHONS, PythonSource, get_python
from .targets import DEFAULT_TARGET, TARGETS, Target, get_target
from .zig import ZIG_VERSION, Zig, find_zig

__all__ = [
    "DEFAULT_TARGET",
    "HOST_PYTHON",
    "PYTHONS",
    "TARGETS",
    "ZIG_VERSION",
    "PythonSource",
    "Target",
    "Zig",
    "find_zig",
    "get_python",
    "get_target",
]
