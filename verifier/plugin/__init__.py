"""The verifier wired into casstore through entry points (pyproject.toml), and nothing else: the CLI
commands (``casstore.commands``: :mod:`.cli` rebuild and verify, :mod:`.cli_nightly` nightly and report,
:mod:`.cli_build_all` build-all), the demo's steps (``casstore.demo``: :mod:`.demo`) and the rebuilder
of evicted wheels (``casstore.rebuilders``: :mod:`.rebuilder`)."""

from .rebuilder import StoreRebuilder, ZigRebuilder, zig_rebuilder

__all__ = ["StoreRebuilder", "ZigRebuilder", "zig_rebuilder"]
