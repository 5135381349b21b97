"""The golden store: written once by casstore 0.1 (store format 2, manifest version 1) and read
back, verified, by every later test run. Never regenerate it to make this test pass: a failure means
a store written by an earlier release would no longer be readable.

To (re)create it after a deliberate, migrated format change: ``python tests/test_format_golden.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from casstore import fsck

GOLDEN = Path(__file__).parent / "data" / "golden-store-v1"


def build(root: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import io

    from test_format import SHARED, make_sdist, make_wheel

    from casstore.store.store import Store

    files = {
        "golden-1.0-cp312-cp312-manylinux_2_17_x86_64.whl": make_wheel({**SHARED, "golden/_x.so": b"\x7fELF" * 500}),
        "golden-1.0-cp312-cp312-macosx_11_0_arm64.whl": make_wheel({**SHARED, "golden/_x.so": b"\xcf\xfa" * 900}),
        "golden-1.0-py3-none-any.whl": make_wheel({"golden/a.py": b"A = 1\n" * 40}, compression=0),
        "golden-1.0.tar.gz": make_sdist({"golden-1.0/PKG-INFO": b"Name: golden\n", **{
            f"golden-1.0/{k}": v for k, v in SHARED.items()}}),
        "golden-0.9.tar.gz": make_sdist({"golden-0.9/setup.py": b"x" * 1000}, level=1),  # gzip level 1
        "golden-0.8-py3-none-any.whl": b"PK\x03\x04 truncated zip, stored whole",
    }
    shutil.rmtree(root, ignore_errors=True)
    store = Store.directory(root, clock=lambda: 1_750_000_000.0)
    expected = {}
    for name, data in files.items():
        info = store.put(io.BytesIO(data), name)
        expected[name] = {"blake3": str(info.blake3), "size": info.size, "layout": info.layout}
    store.close()
    (root / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


def test_golden_store_reads_back_bit_exactly(tmp_path: Path) -> None:
    from casstore.digest import hash_bytes
    from casstore.store.store import Store

    root = tmp_path / "golden"
    shutil.copytree(GOLDEN, root)
    expected = json.loads((root / "expected.json").read_text())
    with Store.directory(root, create=False) as store:
        assert {f.filename for f in store.ls()} == set(expected)
        layouts = set()
        for name, want in expected.items():
            info = store.info(name)
            data = store.get(name)
            assert str(hash_bytes(data)) == want["blake3"] == str(info.blake3)
            assert len(data) == want["size"]
            layouts.add(info.layout)
        assert layouts == {"blob", "recipe"}
        report = fsck(store)
        assert report.ok and not report.unreferenced, report


if __name__ == "__main__":
    build(GOLDEN)
    print(json.dumps(json.loads((GOLDEN / "expected.json").read_text()), indent=1))
