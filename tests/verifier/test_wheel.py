import zipfile
from pathlib import Path

import pytest

from verifier import VerifierError
from verifier.build.wheel import extension_modules, parse_wheel_name, retag


def make_wheel(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)
    return path


WHEEL = b"Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n\n"


def sample(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "x-1.0-cp311-cp311-linux_x86_64.whl", [
        ("x/__init__.py", b""),
        ("x/_s.cpython-311-x86_64-linux-gnu.so", b"\x7fELF"),
        ("x-1.0.dist-info/WHEEL", WHEEL),
        ("x-1.0.dist-info/RECORD", b"x/__init__.py,,\nx-1.0.dist-info/WHEEL,sha256=old,99\nx-1.0.dist-info/RECORD,,\n"),
    ])


def test_retag_rewrites_name_wheel_and_record_and_keeps_the_rest(tmp_path: Path) -> None:
    new = retag(sample(tmp_path), "manylinux_2_17_x86_64")
    assert new.name == "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(new) as zf:
        assert zf.namelist()[0] == "x/__init__.py"
        assert b"Tag: cp311-cp311-manylinux_2_17_x86_64\n" in zf.read("x-1.0.dist-info/WHEEL")
        assert b"linux_x86_64" not in zf.read("x-1.0.dist-info/WHEEL").replace(b"manylinux_2_17_x86_64", b"")
        assert b"sha256=old" not in zf.read("x-1.0.dist-info/RECORD")
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_retag_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = retag(sample(tmp_path / "a"), "manylinux_2_17_x86_64").read_bytes()
    b = retag(sample(tmp_path / "b"), "manylinux_2_17_x86_64").read_bytes()
    assert a == b


def test_extension_modules(tmp_path: Path) -> None:
    assert extension_modules(sample(tmp_path), ".cpython-311-x86_64-linux-gnu.so") == ["x._s"]


def test_bad_wheel_name_is_quoted() -> None:
    with pytest.raises(VerifierError, match="'nope.whl'"):
        parse_wheel_name("nope.whl")
