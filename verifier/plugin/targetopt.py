"""The `--target` option of the verifier's commands: any name `get_target` knows, including a macOS target
with a minimum version (`aarch64-macos.11.0`); a name it refuses is a one-line usage error saying why."""

from __future__ import annotations

import click

from ..errors import InvalidTarget
from ..toolchain.targets import TARGETS, get_target

__all__ = ["TargetName"]


class TargetName(click.ParamType):  # type: ignore[type-arg]
    name = "target"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return get_target(str(value)).name
        except InvalidTarget as e:
            self.fail(f"{e}; known: {', '.join(sorted(TARGETS))}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "TARGET"
