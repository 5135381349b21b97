import pytest

from verifier import DEFAULT_TARGET, TARGETS, InvalidTarget, VerifierError, get_target


def test_default_target_maps_to_manylinux_2_17() -> None:
    t = get_target(DEFAULT_TARGET)
    assert (t.zig_triple, t.platform_tag) == ("x86_64-linux-gnu.2.17", "manylinux_2_17_x86_64")
    assert t.ext_suffix("311") == ".cpython-311-x86_64-linux-gnu.so"


def test_musl_and_aarch64_rows() -> None:
    assert TARGETS["aarch64-linux-gnu.2.17"].platform_tag == "manylinux_2_17_aarch64"
    assert TARGETS["x86_64-linux-musl"].platform_tag == "musllinux_1_2_x86_64"
    assert TARGETS["aarch64-linux-musl"].ext_suffix("311") == ".cpython-311-aarch64-linux-musl.so"


def test_unknown_target_names_the_input() -> None:
    with pytest.raises(InvalidTarget, match="'sparc-sunos'") as e:
        get_target("sparc-sunos")
    assert isinstance(e.value, VerifierError)
