from verifier import BuildOutcome, Grade, grade

M = frozenset({"a.py", "a.so"})


def ok(name: str, digest: str = "blake3:1", members: frozenset[str] = M) -> BuildOutcome:
    return BuildOutcome(name, True, digest=digest, members=members)


def test_identical_builds_are_reproducible() -> None:
    assert grade([ok("a"), ok("b")])[0] is Grade.REPRODUCIBLE


def test_differing_bits_are_repeatable() -> None:
    g, reasons = grade([ok("a"), ok("b", "blake3:2")])
    assert g is Grade.REPEATABLE and "2 different wheels" in reasons[0]


def test_differing_member_sets_are_broken() -> None:
    g, reasons = grade([ok("a"), ok("b", "blake3:2", frozenset({"a.py"}))])
    assert g is Grade.BROKEN and "which files" in reasons[0]


def test_a_failed_build_is_broken() -> None:
    g, reasons = grade([ok("a"), BuildOutcome("b", False, failure="exit 1")])
    assert g is Grade.BROKEN and "'b' failed: exit 1" in reasons[0]


def test_infrastructure_failure_is_inconclusive() -> None:
    g, _ = grade([ok("a"), BuildOutcome("b", False, infra_failure=True, failure="timed out")])
    assert g is Grade.INCONCLUSIVE


def test_package_failure_outranks_infrastructure_failure() -> None:
    outs = [BuildOutcome("a", False, failure="exit 1"), BuildOutcome("b", False, infra_failure=True)]
    assert grade(outs)[0] is Grade.BROKEN


def test_one_build_is_not_enough() -> None:
    assert grade([ok("a")])[0] is Grade.INCONCLUSIVE


def test_agreeing_builds_that_differ_from_the_stored_wheel_are_repeatable() -> None:
    assert grade([ok("a"), ok("b")], stored_digest="blake3:9")[0] is Grade.REPEATABLE
    assert grade([ok("a"), ok("b")], stored_digest="blake3:1")[0] is Grade.REPRODUCIBLE
