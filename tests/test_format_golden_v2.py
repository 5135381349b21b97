"""The golden store of manifest version 2 (Deflate segments with stream checks): written once by
this release and read back, verified, by every later test run — through the accelerator where it
passes its calibration, and through the pinned engine alone. Never regenerate it to make this test
pass. To (re)create it after a deliberate, migrated format change:
``python tests/test_format_golden_v2.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from casstore import fsck

sys.path.insert(0, str(Path(__file__).parent))

from test_format_golden import build

from casstore.digest import Digest, hash_bytes
from casstore.format import deflate as _deflate
from casstore.format import recipe as _recipe
from casstore.store.store import Store

GOLDEN = Path(__file__).parent / "data" / "golden-store-v2"


def _checks(segs: tuple[_recipe.Segment, ...]) -> list[bytes | None]:
    out: list[bytes | None] = []
    for s in segs:
        if isinstance(s, _recipe.Deflate):
            out.append(s.check)
            out += _checks(s.inner)
    return out


@pytest.mark.parametrize("accelerated", [True, False])
def test_golden_v2_store_reads_back_bit_exactly(tmp_path: Path, accelerated: bool) -> None:
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN, root)
    expected = json.loads((root / "expected.json").read_text())
    with Store.directory(root, create=False) as store:
        assert {f.filename for f in store.ls()} == set(expected)
        versions = set()
        for name, want in expected.items():
            info = store.info(name)
            if info.layout == "recipe":
                manifest = store.get_blob(Digest(str(store.catalog.file(name)["manifest"])))
                versions.add(manifest[4])
                recipe = _recipe.decode(manifest)
                checks = _checks(recipe.segments)
                assert all(c is not None for c in checks)
                assert manifest[4] == (2 if checks else 1)  # version 1 where nothing needs 2
                chunks = _recipe.render(recipe, store.open_blob, workers=2) \
                    if accelerated else _pinned_only(recipe, store)
                data = b"".join(chunks)
            else:
                data = store.get(name)
            assert str(hash_bytes(data)) == want["blake3"] == str(info.blake3)
            assert len(data) == want["size"]
        assert versions == {1, 2}
        report = fsck(store)
        assert report.ok and not report.unreferenced, report


def _pinned_only(recipe: _recipe.Recipe, store: Store):  # type: ignore[no-untyped-def]
    """Render with the pinned engine for every stream (as on a machine whose zlib differs)."""
    def render(segs):  # type: ignore[no-untyped-def]
        for s in segs:
            if isinstance(s, _recipe.Deflate):
                yield from _deflate.pinned_stream(s.params, s.size, s.check, lambda s=s: render(s.inner))
            else:
                yield from _recipe.render(_recipe.Recipe(s.size, (s,)), store.open_blob, workers=0)
    return render(recipe.segments)


if __name__ == "__main__":
    build(GOLDEN)
    print(json.dumps(json.loads((GOLDEN / "expected.json").read_text()), indent=1))
