import os
import zipfile
from pathlib import Path

from verifier import compare_wheels, published_status
from verifier.grading.diff import classify_content

from .test_wheel import make_wheel

BASE = [("x/a.py", b"print(1)\n"), ("x/b.so", b"\x7fELF" + bytes(64)), ("x-1.dist-info/RECORD", b"x/a.py\nx/b.so\n")]


def test_identical_wheels(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a.whl", BASE)
    b = make_wheel(tmp_path / "b.whl", BASE)
    exp = compare_wheels(a, b)
    assert exp.differing_members == [] and exp.equal_after_normalization and exp.causes == []
    assert published_status(a, b) == "identical" and published_status(a, None) == "none"


def test_order_and_record_order_are_normalized_away(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a.whl", BASE)
    b = make_wheel(tmp_path / "b.whl", [BASE[1], BASE[0], ("x-1.dist-info/RECORD", b"x/b.so\nx/a.py\n")])
    exp = compare_wheels(a, b)
    assert exp.equal_after_normalization
    assert exp.causes == ["RECORD order", "file order"]
    assert published_status(a, b) == "equal-after-normalization"


def test_zip_timestamps(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a.whl", BASE)
    b = tmp_path / "b.whl"
    with zipfile.ZipFile(b, "w") as zf:
        for name, data in BASE:
            zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            zi.compress_type, zi.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            zf.writestr(zi, data)
    exp = compare_wheels(a, b)
    assert exp.causes == ["zip timestamps"] and exp.equal_after_normalization


def test_member_sets_and_content(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a.whl", BASE)
    b = make_wheel(tmp_path / "b.whl", [BASE[0], ("x/b.so", b"\x7fELF" + os.urandom(64)), ("x/c.py", b"")])
    exp = compare_wheels(a, b)
    assert exp.only_in_second == ["x/c.py"] and exp.differing_members == ["x/b.so"]
    assert not exp.equal_after_normalization and "randomness" in exp.causes


def test_classify_timestamps_paths_randomness() -> None:
    pad = b"\0" * 40
    assert classify_content(pad + b"built 12:00:01" + pad, pad + b"built 12:00:07" + pad) == ["timestamps"]
    assert classify_content(b"/tmp/build-a/x.c", b"/tmp/build-bb/x.c", [b"/tmp/build-a", b"/tmp/build-bb"]) == [
        "embedded paths"
    ]
    assert classify_content(pad + os.urandom(16) + pad, pad + os.urandom(16) + pad) == ["randomness"]


def test_classify_random_temp_dirs_as_embedded_paths() -> None:
    pad = b"\0" * 40
    a = pad + b"/build/tmp/.tmp-frozenlist-pep517-keec89o7/src/x.c" + pad
    b = pad + b"/build/tmp/.tmp-frozenlist-pep517-ot5wn8y6/src/x.c" + pad
    assert classify_content(a, b) == ["embedded paths"]
