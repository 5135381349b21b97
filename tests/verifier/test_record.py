import json

from hypothesis import given
from hypothesis import strategies as st

from verifier import BuildRecord, Explanation, Pin, Recipe, VerificationRecord
from verifier.record import ModuleCheck

PIN = Pin("setuptools", "80.0", "setuptools-80.0-py3-none-any.whl", "ab" * 32, "blake3:" + "cd" * 32)


def recipe(epoch: int = 1_700_000_000, cppflags: str = "") -> Recipe:
    return Recipe("x-1.0.tar.gz", "00" * 32, "blake3:" + "11" * 32, "x86_64-linux-gnu.2.17", "cpython-3.11.7",
                  "cp311", "0.17.1", (PIN,), epoch, cppflags=cppflags)


def record(r: Recipe) -> VerificationRecord:
    b = BuildRecord("first", True, False, None, "x.whl", "aa", "blake3:bb", ["x._s"], "manylinux_2_5_x86_64", "ok",
                    None, "/tmp/log", 1.5, "bubblewrap 0.8.0")
    exp = Explanation(differing_members=["x/_s.so"], causes=["timestamps"])
    return VerificationRecord(r, r.digest, "repeatable", ["2 different wheels"], [b, b], exp, "none", 3.0,
                              "2026-01-01T00:00:00+00:00")


@given(st.integers(min_value=0, max_value=2**40), st.text())
def test_record_round_trips_through_json(epoch: int, flags: str) -> None:
    rec = record(recipe(epoch, flags))
    again = VerificationRecord.loads(rec.dumps())
    assert again == rec
    assert again.recipe.digest == rec.recipe_digest


def test_record_is_plain_json_with_a_schema() -> None:
    data = json.loads(record(recipe()).dumps())
    assert data["schema"] == "casstore.verification/1"
    assert data["recipe"]["build_deps"][0]["filename"].endswith(".whl")
    assert data["explanation"]["causes"] == ["timestamps"]


def test_recipe_digest_depends_on_every_input() -> None:
    assert recipe().digest != recipe(cppflags="-DX").digest
    assert recipe().digest == recipe().digest


@given(st.one_of(st.none(), st.text()))
def test_build_kind_round_trips_and_is_left_out_when_none(kind: str | None) -> None:
    rec = record(recipe())
    rec.build_kind = kind
    again = VerificationRecord.loads(rec.dumps())
    assert again == rec
    assert ("build_kind" in json.loads(rec.dumps())) == (kind is not None)


_names = st.lists(st.from_regex(r"[a-z_][a-z0-9_.]{0,8}", fullmatch=True), max_size=4)


@given(st.text(), st.one_of(st.none(), st.text()), _names, _names, _names, _names)
def test_module_check_round_trips_and_older_records_read_without_it(
        summary: str, wheel: str | None, rebuilt: list[str], published: list[str], missing: list[str],
        extra: list[str]) -> None:
    rec = record(recipe())
    old = json.loads(rec.dumps())
    assert "modules" not in old  # a record without the check writes no key for it, as before
    assert VerificationRecord.from_json(old).modules is None
    rec.modules = ModuleCheck(summary, wheel, rebuilt, published, missing, extra)
    data = json.loads(rec.dumps())
    assert data["modules"] == {"summary": summary, "published_wheel": wheel, "rebuilt": rebuilt,
                               "published": published, "missing": missing, "extra": extra}
    assert VerificationRecord.loads(rec.dumps()) == rec
