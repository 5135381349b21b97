"""Native libraries in builds: which a project needs and how its build finds them (a data table,
`native_projects.toml`), the recipe's inputs for them, the build's environment, and their place in the store.

`make_recipe` asks `native_inputs` for the project's libraries (built once per target and cached by
`toolchain/nativelib.py`); each becomes a `record.Input` of the recipe, by the BLAKE3 of its built prefix,
and the table's environment for the project becomes the recipe's `build_env`. `build_once` asks
`native_cause` once before it builds: a project that needs a library without a recipe (or one that did
not build for the target) is not built, and graded inconclusive with that one-line cause. Otherwise
`native_env` unpacks each input, checked against its digest, into `BUILD/native/<library>` and returns the
variables that point the build at them.

In the store (`keep_inputs`, called by `keep_build_deps`): each input's tar is a blob owned by
`input:<recipe digest>`, so no gc collects it while that recipe is on record; casstore's eviction rule asks
for every input of a recipe to be present before it lets a wheel go, and `inputs_from_store` exports them
for a rebuild of an evicted wheel."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casstore import Digest

from ..errors import VerifierError
from ..record import Input, Recipe
from ..toolchain.nativelib import (
    DEFAULT_NATIVE_CACHE,
    LIBRARIES,
    Library,
    LibraryBuildFailed,
    ensure_library,
    unpack_input,
)
from ..toolchain.targets import Target

__all__ = [
    "PROJECTS", "Needs", "hook_env", "input_owner", "inputs_from_store", "keep_inputs", "load_projects", "missing_recipe",
    "native_cause", "native_env", "native_inputs", "needs_of", "project_of",
]

TABLE = Path(__file__).with_name("native_projects.toml")


@dataclass(frozen=True)
class Needs:
    """What one project's build needs: libraries, and the environment that points the build at them."""

    project: str
    libraries: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    why: str = ""
    config_settings: tuple[str, ...] = ()  # `build -C KEY=VALUE` for the backend
    hook_env: bool = False  # the backend's get_requires_for_build_wheel hook reads `env` too (asked with it)
    ldflags: tuple[str, ...] = ()  # link flags the project's build does not add itself (the recipe's `ldflags`)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_projects(text: str) -> dict[str, Needs]:
    """The table's projects by normalized name (pure)."""
    out = {}
    for name, d in tomllib.loads(text).items():
        extra = set(d) - {"libraries", "env", "why", "config_settings", "hook_env", "ldflags"}
        if extra:
            raise VerifierError(f"native needs of {name!r}: unknown fields {sorted(extra)}")
        key = _normalize(name)
        out[key] = Needs(key, tuple(d.get("libraries", ())), tuple(sorted(d.get("env", {}).items())), str(d.get("why", "")),
                         tuple(d.get("config_settings", ())), bool(d.get("hook_env", False)), tuple(d.get("ldflags", ())))
    return out


PROJECTS: Mapping[str, Needs] = load_projects(TABLE.read_text())


def project_of(sdist: str) -> str:
    """The normalized project name of an sdist filename (`PyYAML-6.0.2.tar.gz` -> `pyyaml`)."""
    base = re.sub(r"\.(tar\.gz|zip|tar\.bz2|tgz)$", "", Path(sdist).name)
    return _normalize(base.rsplit("-", 1)[0])


def needs_of(project: str, projects: Mapping[str, Needs] = PROJECTS) -> Needs | None:
    return projects.get(_normalize(project))


def missing_recipe(project: str, projects: Mapping[str, Needs] = PROJECTS,
                   libraries: Mapping[str, Library] = LIBRARIES) -> str | None:
    """The one-line cause when `project` needs a native library that has no recipe (pure), else None."""
    needs = needs_of(project, projects)
    for lib in needs.libraries if needs else ():
        if lib not in libraries:
            return f"needs native library {lib}; no recipe"
    return None


def native_cause(recipe: Recipe, projects: Mapping[str, Needs] | None = None,
                 libraries: Mapping[str, Library] = LIBRARIES) -> str | None:
    """Why a build by `recipe` cannot have the native libraries its project needs (pure), else None.
    `projects`: the project table (None: `PROJECTS`)."""
    projects = PROJECTS if projects is None else projects
    project = project_of(recipe.sdist_filename)
    why = missing_recipe(project, projects, libraries)
    if why is not None:
        return why
    needs = needs_of(project, projects)
    have = {i.name for i in recipe.inputs}
    for lib in needs.libraries if needs else ():
        if lib not in have:
            return f"native library {lib} did not build for {recipe.target}; no input in the recipe"
    return None


def hook_env(sdist: str, projects: Mapping[str, Needs] = PROJECTS) -> dict[str, str]:
    """The environment the requirements hook of `sdist`'s backend is asked with (pure): the table's `env`
    for a project marked `hook_env`, without entries naming a library (nothing is unpacked for the
    question); {} otherwise, since running a build script under its env can be a build in itself (mypy's
    setup.py compiles with mypyc when MYPY_USE_MYPYC=1)."""
    needs = needs_of(project_of(sdist), projects)
    if needs is None or not needs.hook_env:
        return {}
    return {k: v for k, v in needs.env if "{" not in v}


def native_inputs(sdist: str, target: Target, cache: Path | None = None,
                  projects: Mapping[str, Needs] | None = None) -> dict[str, Any]:
    """What a recipe for `sdist` on `target` gets from the tables: `inputs`, `build_env`, `config_settings`
    and `ldflags` (Recipe's fields; `make_recipe` appends `ldflags` to its own); libraries are built (twice,
    graded) if not cached. A library without a recipe or that fails to build is left out: `native_cause` then
    says so in the build. `projects`: None for `PROJECTS`."""
    projects = PROJECTS if projects is None else projects
    needs = needs_of(project_of(sdist), projects)
    if needs is None or missing_recipe(needs.project, projects) is not None:
        return {}
    inputs = []
    for name in needs.libraries:
        try:
            inputs.append(ensure_library(name, target, cache).input)
        except LibraryBuildFailed:
            continue
    return {"inputs": tuple(inputs), "build_env": needs.env, "config_settings": needs.config_settings,
            "ldflags": " ".join(needs.ldflags)}


def _archive(natives: Path, i: Input) -> Path:
    return natives / "archives" / f"{i.blake3.removeprefix('blake3:')}.tar"


def native_env(recipe: Recipe, root: Path, natives: Path | None = None) -> dict[str, str]:
    """Unpack the recipe's inputs into `root/native/<name>` (each checked against its digest) and return the
    variables that point the build at them, with the table's environment; only that environment (e.g.
    MYPY_USE_MYPYC=1) for a recipe without inputs."""
    if not recipe.inputs:
        return dict(recipe.build_env)
    natives = (natives or DEFAULT_NATIVE_CACHE).absolute()
    prefixes: dict[str, Path] = {}
    for i in recipe.inputs:
        archive = _archive(natives, i)
        if not archive.is_file():
            raise VerifierError(f"native input {i.name} {i.version} ({i.blake3}) is not in {str(natives)!r}")
        prefixes[i.name] = unpack_input(archive, i.blake3, root / "native" / i.name)
    tokens = {k: str(v) for k, v in prefixes.items()}
    env = {k: re.sub(r"\{([a-z0-9_-]+)\}", lambda m: tokens.get(m.group(1), m.group(0)), v) for k, v in recipe.build_env}
    env["CPPFLAGS"] = " ".join([*(f"-I{p / 'include'}" for p in prefixes.values()), recipe.cppflags]).strip()
    env["LDFLAGS"] = " ".join([*(f"-L{p / 'lib'}" for p in prefixes.values()), recipe.ldflags]).strip()
    env["PKG_CONFIG_PATH"] = ":".join(str(p / "lib" / "pkgconfig") for p in prefixes.values())
    env["PKG_CONFIG_LIBDIR"] = env["PKG_CONFIG_PATH"]  # the host's .pc files stay out of sight
    return env


def input_owner(recipe: Recipe) -> str:
    """The catalog owner of a recipe's inputs: they live as long as the recipe is on record."""
    return f"input:{recipe.digest}"


def keep_inputs(store: Any, recipe: Recipe, natives: Path | None = None) -> list[str]:
    """Put each input of `recipe` into `store` as a blob owned by `input_owner(recipe)`; their digests."""
    natives = (natives or DEFAULT_NATIVE_CACHE).absolute()
    out = []
    for i in recipe.inputs:
        digest = store.put_blob(_archive(natives, i), ref=input_owner(recipe))
        if str(digest) != i.blake3:
            raise VerifierError(f"native input {i.name}: stored as {digest}, the recipe names {i.blake3}")
        out.append(str(digest))
    return out


def inputs_from_store(store: Any, recipe: Recipe, natives: Path) -> Path:
    """Export `recipe`'s inputs from `store` into `natives/archives/` (what `native_env` reads)."""
    for i in recipe.inputs:
        dest = _archive(natives, i)
        if dest.is_file():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = store.get_blob(Digest.parse(i.blake3))
        except Exception as e:  # casstore's errors are not ours to import
            raise VerifierError(f"native input {i.name} {i.version} ({i.blake3}) is not in the store: {e}") from e
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(dest)
    return natives

