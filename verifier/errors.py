"""The one exception root of the verifier and its subclasses."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BuildFailed",
    "DependenciesUnavailable",
    "InvalidBinary",
    "InvalidPython",
    "InvalidSdist",
    "InvalidTarget",
    "PinMismatch",
    "PythonExcluded",
    "TargetPythonUnavailable",
    "ToolMissing",
    "VerifierError",
]


class VerifierError(Exception):
    """Raised from this package's code."""


class InvalidTarget(VerifierError, ValueError):
    def __init__(self, target: str, why: str = "") -> None:
        super().__init__(f"unknown target: {target!r}" + (f" ({why})" if why else ""))
        self.target = target


class InvalidPython(VerifierError, ValueError):
    def __init__(self, version: str, known: list[str]) -> None:
        super().__init__(f"unknown Python version: {version!r} (known: {', '.join(known)})")
        self.version = version
        self.known = known


class PythonExcluded(VerifierError):
    """An sdist's Requires-Python allows none of the CPython versions a build could use."""

    def __init__(self, requires: str, versions: list[str], requested: str | None = None) -> None:
        what = (f"Requires-Python {requires} excludes the requested CPython {requested}" if requested else
                f"Requires-Python {requires} allows none of the CPython versions here")
        super().__init__(f"{what} ({', '.join(versions)})")
        self.requires = requires
        self.versions = versions
        self.requested = requested


class TargetPythonUnavailable(VerifierError):
    """This host has no headers or libraries of the chosen CPython version for the target (macOS, Windows):
    a cause of the machine, graded inconclusive."""


class DependenciesUnavailable(VerifierError):
    """Build dependencies could not be downloaded or resolved. `conflict`: pip said the requirements
    contradict each other (the package's fault); otherwise the machine's (network, an index without them)."""

    def __init__(self, message: str, requirements: list[str], conflict: bool, log: Path | None = None) -> None:
        super().__init__(message)
        self.requirements = requirements
        self.conflict = conflict
        self.log = log


class ToolMissing(VerifierError):
    def __init__(self, tool: str, package: str) -> None:
        super().__init__(f"{tool} missing, install Debian package {package}")
        self.tool = tool
        self.package = package


class PinMismatch(VerifierError):
    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(f"build dependency {str(path)!r} has digest {actual}, recipe pins {expected}")
        self.path = path
        self.expected = expected
        self.actual = actual


class InvalidBinary(VerifierError, ValueError):
    """A file that should be an ELF, PE or Mach-O binary (or a wheel holding them) and cannot be read as one."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"invalid binary {name!r}: {why}")
        self.name = name
        self.why = why


class InvalidSdist(VerifierError, ValueError):
    def __init__(self, sdist: str, why: str) -> None:
        super().__init__(f"invalid sdist {sdist!r}: {why}")
        self.sdist = sdist
        self.why = why


class BuildFailed(VerifierError):
    """A rebuild did not produce a usable wheel; `log` is where the full log is."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message + (f" (log: {log})" if log else ""))
        self.log = log
