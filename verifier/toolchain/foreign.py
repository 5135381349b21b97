"""Builds for macOS and Windows from this Linux host: what the build sees instead of a Debian sysroot.

The build interpreter stays the host's CPython; as for the Linux cross targets, a generated sysconfigdata
module and `_PYTHON_HOST_PLATFORM` make setuptools, meson and CMake see the target (`cross.py`). What differs
per OS is here: the CPython headers (Windows: `PC/pyconfig.h` of the pinned source, `windows.py`; macOS: a
pyconfig.h made by a cross configure with zig, `macos.py`), the flags every compile gets, how an extension
module is linked, and the sysconfig values a build asks about the target's Python.

- Windows (`*-windows-gnu`, UCRT): compile with `-DMS_WIN64` on 64-bit targets (PC/pyconfig.h defines it
  only for Microsoft C); link with `-shared -L<libs> -lpython3XX` — on Windows setuptools adds the Python
  library itself (`build_ext.get_libraries`, only when `sys.platform == "win32"`), here the host is Linux;
  `-s` and `-Wl,--out-implib,<build root>/tmp/…` (`ForeignPython.link_flags`): no `.pdb` and no import
  library beside the module (they would land in the wheel). Never `/dev/null`: the linker replaces the file
  it is given, and outside a sandbox with its own /dev that turns the host's /dev/null into a regular file.
  A limited-API (abi3) module would have to link `python3.lib` instead: not handled, such builds link
  `python3XX.dll` and their structural check shows it.
- macOS: link with `-shared -undefined dynamic_lookup` (`macos.MACOS_LDSHARED_FLAGS`; zig cannot make the
  `-bundle` CPython's own LDSHARED uses): the interpreter provides the `_Py*` symbols at load time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TargetPythonUnavailable, VerifierError
from .targets import Target
from .zig import Zig

__all__ = ["ForeignPython", "foreign_python"]

# zig's COFF link writes X.pdb (with -g) and the import library X.lib beside X.pyd, and setuptools copies both
# into the wheel; python.org's wheels carry neither. Debug info is stripped, the import library goes to a
# scratch file of the build (`ForeignPython.link_flags`).
_NO_SIDE_FILES = ("-s",)


@dataclass(frozen=True)
class ForeignPython:
    include: Path  # Python.h and the target's pyconfig.h
    compile_flags: tuple[str, ...]  # every compile for the target
    shared_flags: tuple[str, ...]  # LDSHARED after the compiler
    headers_source: str  # what the recipe names as the target's headers
    variables: dict[str, Any]  # sysconfig values of the target's Python
    windows: Any = None  # the WindowsPython (import libraries, the embeddable CPython), Windows only

    def link_flags(self, scratch: Path) -> tuple[str, ...]:
        """LDSHARED after the compiler for a build whose scratch directory is `scratch`: Windows links send
        their import library there (`-Wl,--out-implib`), never beside the module."""
        if self.windows is None:
            return self.shared_flags
        return (*self.shared_flags, f"-Wl,--out-implib,{scratch / 'discarded-import-library.lib'}")


def foreign_python(target: Target, version: str, cache: Path, zig: Zig) -> ForeignPython:
    """Headers, flags and sysconfig values for a build for macOS or Windows `target` with CPython `version`
    (made once under `cache`). Raises VerifierError when this host has nothing for that version."""
    nodot = version.replace(".", "")
    if target.os == "windows":
        from .windows import EMBED, HEADERS_SOURCE, ensure_windows_python

        if version not in EMBED:
            raise TargetPythonUnavailable(f"no CPython {version} for Windows here (the pinned embeddable CPython "
                                          f"and headers are {', '.join(EMBED)})")
        win = ensure_windows_python(version, target.arch, cache, zig)
        return ForeignPython(
            win.include, ("-DMS_WIN64",), ("-shared", *_NO_SIDE_FILES, f"-L{win.libs}", f"-l{win.dll_name}"),
            f"debian:{HEADERS_SOURCE[1]}:PC/pyconfig.h+pypi:{EMBED[version][2]}",
            {"MACHDEP": "win32", "EXT_SUFFIX": target.ext_suffix(nodot), "SOABI": f"cp{nodot}-{target.platform_tag}",
             "SHLIB_SUFFIX": ".pyd", "SIZEOF_VOID_P": 8, "SIZEOF_SIZE_T": 8, "SIZEOF_LONG": 4,
             "SIZEOF_WCHAR_T": 2, "Py_ENABLE_SHARED": 1, "LIBRARY": f"{win.dll_name}.dll"},
            win,
        )
    if target.os == "macos":
        from .macos import MACOS_LDSHARED_FLAGS, MACOS_PYTHON_TARBALL, ensure_macos_headers

        if version != "3.11":
            raise TargetPythonUnavailable(f"no CPython {version} headers for macOS here (only 3.11 is configured)")
        mac = ensure_macos_headers(target.arch, cache, zig, macos_min=target.min_os)  # zig's default: its own key
        variables = {k: v for k, v in mac.vars.items() if k.startswith(("SIZEOF_", "ALIGNOF_"))}
        variables.update({"MACHDEP": "darwin", "EXT_SUFFIX": target.ext_suffix(nodot), "SOABI": f"cpython-{nodot}-darwin",
                          "SHLIB_SUFFIX": ".so", "Py_ENABLE_SHARED": 0,
                          "MACOSX_DEPLOYMENT_TARGET": target.min_os})
        return ForeignPython(mac.include, (), tuple(MACOS_LDSHARED_FLAGS),
                             f"debian:{MACOS_PYTHON_TARBALL}:configure --host={target.gnu_type}", variables)
    raise VerifierError(f"{target.name} is a Linux target: it has a Debian sysroot, not a foreign Python")
