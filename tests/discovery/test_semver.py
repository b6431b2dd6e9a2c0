"""Semver parsing, precedence and ranges behave as Masterminds semver v3 does under Kargo.

The expected values follow the behaviour of Masterminds' own test tables and of Kargo's
``pkg/controller/semver`` parser, re-checked against the library's source.
"""

import pytest

from kargo_dagster.errors import DiscoveryError
from kargo_dagster.semver import (
    Version,
    parse_constraint,
    parse_semver,
    parse_strict_semver,
)
from tests.hang_alarm import hang_alarm

# text, accepted by loose parsing, accepted by Masterminds' StrictNewVersion
PARSE_CASES = [
    ("1.2.3", True, True),
    ("1.2.3-alpha.01", False, False),
    ("1.2.3+test.01", True, True),
    ("1.2.3-alpha.-1", True, True),
    ("v1.2.3", True, False),
    ("1.0", True, False),
    ("v1.0", True, False),
    ("1", True, False),
    ("v1", True, False),
    ("1.2", True, False),
    ("1.2.beta", False, False),
    ("v1.2.beta", False, False),
    ("foo", False, False),
    ("", False, False),
    ("1.2-5", True, False),
    ("v1.2-5", True, False),
    ("1.2-beta.5", True, False),
    ("\n1.2", False, False),
    ("1.2\n", False, False),
    ("1.2.0-x.Y.0+metadata", True, True),
    ("v1.2.0-x.Y.0+metadata", True, False),
    ("1.2.0-x.Y.0+metadata-width-hypen", True, True),
    ("1.2.3-rc1-with-hypen", True, True),
    ("1.2.3-0abc123", True, True),
    ("1.2.3-beta.01", False, False),
    ("1.2.3.4", False, False),
    ("v1.2.3.4", False, False),
    ("12.3.4.1234", False, False),
    ("1.2.2147483648", True, True),
    ("18446744073709551615.0.0", True, True),
    ("18446744073709551616.0.0", False, False),
    ("20221209-update-renovatejson-v4", True, False),
    ("1.1.2+.123", False, False),
    ("1.0.0-alpha_beta", False, False),
    ("1.0.0-alpha..", False, False),
    ("1.0.0-alpha..1", False, False),
    ("1.2.3-", False, False),
    ("1.2.3+", False, False),
    ("01.1.1", True, False),
    ("1.01.1", True, False),
    ("1.1.01", True, False),
    ("9.8.7+meta+meta", False, False),
    ("1.2.31----RC-SNAPSHOT.12.09.1--.12+788", False, False),
    ("1.2.3-0123", False, False),
    ("+invalid", False, False),
    ("-invalid", False, False),
    ("alpha+beta", False, False),
    ("V1.2.3", False, False),
    ("v", False, False),
    ("1..3", False, False),
    ("\u0661.\u0662.\u0663", False, False),  # Arabic-Indic digits are not digits to Go
    ("latest", False, False),
]


@pytest.mark.parametrize(("text", "loose", "strict"), PARSE_CASES)
def test_loose_and_masterminds_strict_parsing(text: str, loose: bool, strict: bool) -> None:
    assert (parse_semver(text, strict=False) is not None) is loose
    assert (parse_strict_semver(text) is not None) is strict


# Kargo's strictSemvers: loose parsing succeeds and the strict parse of the text without one
# leading "v" succeeds too.
KARGO_STRICT_CASES = [
    ("invalid", False),
    ("1", False),
    ("1.2", False),
    ("1.0.0", True),
    ("v1.0.0", True),
    ("vv1.0.0", False),
    ("v1.0", False),
    ("01.2.3", False),
    ("1.2.3-rc.1+build.5", True),
    ("v1.2.3-rc.1", True),
]


@pytest.mark.parametrize(("text", "accepted"), KARGO_STRICT_CASES)
def test_kargo_strict_semvers(text: str, accepted: bool) -> None:
    assert (parse_semver(text, strict=True) is not None) is accepted


@pytest.mark.parametrize(
    ("text", "normal", "parts"),
    [
        ("1.2.3", "1.2.3", (1, 2, 3, "", "")),
        ("v1.2.3", "1.2.3", (1, 2, 3, "", "")),
        ("1.0", "1.0.0", (1, 0, 0, "", "")),
        ("v1", "1.0.0", (1, 0, 0, "", "")),
        ("1.2-5", "1.2.0-5", (1, 2, 0, "5", "")),
        ("v1.2-beta.5", "1.2.0-beta.5", (1, 2, 0, "beta.5", "")),
        ("1.2.3-beta.1+build.123", "1.2.3-beta.1+build.123", (1, 2, 3, "beta.1", "build.123")),
        ("01.02.003", "1.2.3", (1, 2, 3, "", "")),
        ("1-2-3", "1.0.0-2-3", (1, 0, 0, "2-3", "")),
    ],
)
def test_parsed_parts_and_original(
    text: str, normal: str, parts: tuple[int, int, int, str, str]
) -> None:
    version = parse_semver(text, strict=False)
    assert version is not None
    assert str(version) == normal
    assert version.original == text
    got = (version.major, version.minor, version.patch, version.prerelease, version.metadata)
    assert got == parts


COMPARE_CASES = [
    ("1.2.3", "1.5.1", -1),
    ("2.2.3", "1.5.1", 1),
    ("2.2.3", "2.2.2", 1),
    ("3.2-beta", "3.2-beta", 0),
    ("1.3", "1.1.4", 1),
    ("4.2", "4.2-beta", 1),
    ("4.2-beta", "4.2", -1),
    ("4.2-alpha", "4.2-beta", -1),
    ("4.2-beta.2", "4.2-beta.1", 1),
    ("4.2-beta2", "4.2-beta1", 1),
    ("4.2-beta", "4.2-beta.2", -1),
    ("4.2-beta", "4.2-beta.foo", -1),
    ("4.2-beta.foo", "4.2-beta", 1),
    ("1.2+bar", "1.2+baz", 0),
    ("1.0.0-beta.4", "1.0.0-beta.-2", -1),
    ("1.0.0-beta.-2", "1.0.0-beta.-3", -1),
    ("1.0.0-beta.-3", "1.0.0-beta.5", 1),
    ("3.2.0-beta.1", "3.2.0-beta.5", -1),
    ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103", -1),
    ("7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", 1),
    ("1.0.0-alpha.Z", "1.0.0-alpha.a", -1),  # ASCII order: upper case first
    # A numeric identifier too big for 64 bits is compared as text, as Go's ParseUint fails.
    ("1.0.0-99999999999999999999", "1.0.0-1", 1),
    ("1.0.0-99999999999999999999", "1.0.0-a", -1),
]


@pytest.mark.parametrize(("left", "right", "expected"), COMPARE_CASES)
def test_precedence(left: str, right: str, expected: int) -> None:
    lv, rv = parse_semver(left, strict=False), parse_semver(right, strict=False)
    assert lv is not None and rv is not None
    assert lv.compare(rv) == expected
    assert rv.compare(lv) == -expected


def test_sorting_is_total_and_breaks_ties_by_original_text() -> None:
    texts = ["1.0", "1.0.0", "v1.0.0", "1.0.0+b", "1.0.0-rc.1", "0.9.9", "1.0.0-rc.1+x", "2"]
    versions = [parse_semver(t, strict=False) for t in texts]
    assert all(v is not None for v in versions)
    ordered = sorted(v for v in versions if v is not None)
    assert [v.original for v in ordered] == [
        "0.9.9",
        "1.0.0-rc.1",
        "1.0.0-rc.1+x",
        "1.0",
        "1.0.0",
        "1.0.0+b",
        "v1.0.0",
        "2",
    ]
    assert len({*ordered}) == len(ordered)
    assert Version(1, 0, 0, original="1.0.0") == parse_semver("1.0.0", strict=True)


# Constraint, version, whether the version satisfies it (Masterminds Constraints.Check).
CHECK_CASES = [
    ("=2.0.0", "1.2.3", False),
    ("=2.0.0", "2.0.0", True),
    ("=2.0", "1.2.3", False),
    ("=2.0", "2.0.0", True),
    ("=2.0", "2.0.1", True),
    ("4.1", "4.1.0", True),
    ("!=4.1.0", "4.1.0", False),
    ("!=4.1.0", "4.1.1", True),
    ("!=4.1", "4.1.0", False),
    ("!=4.1", "4.1.1", False),
    ("!=4.1", "5.1.0-alpha.1", False),
    ("!=4.1.0", "5.1.0-alpha.1", False),
    ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1", "5.1.0", True),
    ("<11", "0.1.0", True),
    ("<11", "11.1.0", False),
    ("<1.1", "0.1.0", True),
    ("<1.1", "1.1.0", False),
    ("<1.1", "1.1.1", False),
    ("<=11", "1.2.3", True),
    ("<=11", "12.2.3", False),
    ("<=11", "11.2.3", True),
    ("<=1.1", "1.2.3", False),
    ("<=1.1", "0.1.0", True),
    ("<=1.1", "1.1.0", True),
    ("<=1.1", "1.1.1", True),
    (">1.1", "4.1.0", True),
    (">1.1", "1.1.0", False),
    (">0", "0", False),
    (">0", "1", True),
    (">0", "0.0.1-alpha", False),
    (">0.0", "0.0.1-alpha", False),
    (">0-0", "0.0.1-alpha", False),
    (">0.0-0", "0.0.1-alpha", False),
    (">0", "0.0.0-alpha", False),
    (">0-0", "0.0.0-alpha", False),
    (">0.0.0-0", "0.0.0-alpha", True),
    (">1.2.3-alpha.1", "1.2.3-alpha.2", True),
    (">1.2.3-alpha.1", "1.3.3-alpha.2", True),
    (">11", "11.1.0", False),
    (">11.1", "11.1.0", False),
    (">11.1", "11.1.1", False),
    (">11.1", "11.2.1", True),
    (">=11", "11.1.2", True),
    (">=11.1", "11.1.2", True),
    (">=11.1", "11.0.2", False),
    (">=1.1", "0.0.9", False),
    (">=0", "0.0.1-alpha", False),
    (">=0-0", "0.0.1-alpha", True),
    (">=0.0-0", "0.0.1-alpha", True),
    (">=0-0", "0.0.0-alpha", True),
    (">=0.0.0-0", "1.2.3", True),
    (">=0.0.0-0", "3.4.5-beta.1", True),
    ("<0", "0.0.0-alpha", False),
    ("<0-z", "0.0.0-alpha", True),
    (">=0", "0", True),
    ("=0", "1", False),
    ("*", "1", True),
    ("*", "4.5.6", True),
    ("*", "1.2.3-alpha.1", False),
    ("*-0", "1.2.3-alpha.1", True),
    ("2.*", "1", False),
    ("2.*", "3.4.5", False),
    ("2.*", "2.1.1", True),
    ("2.1.*", "2.1.1", True),
    ("2.1.*", "2.2.1", False),
    ("2", "1", False),
    ("2", "3.4.5", False),
    ("2", "2.1.1", True),
    ("2.1", "2.1.1", True),
    ("2.1", "2.2.1", False),
    ("~1.2.3", "1.2.4", True),
    ("~1.2.3", "1.3.4", False),
    ("~1.2", "1.2.4", True),
    ("~1.2", "1.3.4", False),
    ("~1", "1.2.4", True),
    ("~1", "2.3.4", False),
    ("~0.2.3", "0.2.5", True),
    ("~0.2.3", "0.3.5", False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    # Unlike npm, a prerelease range is not confined to its own major.minor.patch.
    ("~1.2.3-beta.2", "1.2.4-beta.2", True),
    ("~1.2.3-beta.2", "1.3.4-beta.2", False),
    ("^1.2.3", "1.8.9", True),
    ("^1.2.3", "2.8.9", False),
    ("^1.2.3", "1.2.1", False),
    ("^1.1.0", "2.1.0", False),
    ("^1.2.0", "2.2.1", False),
    ("^1.2.0", "1.2.1-alpha.1", False),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", True),
    ("^1.2.0-alpha.0", "1.2.1-alpha.0", True),
    ("^1.2.0-alpha.2", "1.2.0-alpha.1", False),
    ("^1.2", "1.8.9", True),
    ("^1.2", "2.8.9", False),
    ("^1", "1.8.9", True),
    ("^1", "2.8.9", False),
    ("^0.2.3", "0.2.5", True),
    ("^0.2.3", "0.5.6", False),
    ("^0.2", "0.2.5", True),
    ("^0.2", "0.5.6", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.3", True),
    ("^0.0", "0.1.4", False),
    ("^0.0", "1.0.4", False),
    ("^0", "0.2.3", True),
    ("^0", "1.1.4", False),
    ("^0.2.3-beta.2", "0.2.3-beta.4", True),
    ("^0.2.3-beta.2", "0.2.4-beta.2", True),
    ("^0.2.3-beta.2", "0.3.4-beta.2", False),
    ("^0.2.3-beta.2", "0.2.3-beta.2", True),
    ("*", "1.2.3", True),
    ("~0.0.0", "1.2.3", True),
    ("0.x.x", "1.2.3", False),
    ("0.0.x", "1.2.3", False),
    ("0.0.0", "1.2.3", False),
    ("^0.0.0", "1.2.3", False),
    # Quirk: "^*" has the bound 0.0.0 and the ^0.0.z rules, so it admits only 0.0.0.
    ("^*", "1.2.3", False),
    ("^*", "0.4.0", False),
    ("^*", "0.0.0", True),
    ("= 2.0", "2.0.0", True),
    ("4.1.x", "4.1.3", True),
    ("1.x", "1.4", True),
    ("1.X", "1.4.7", True),
    ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False),
    ("!=4.x", "5.1.0", True),
    ("!=4.x", "4.1.0", False),
    ("!=4.1.x", "4.2.0", True),
    ("!=4.2.x", "4.2.3", False),
    ("!=*", "1.2.3", True),
    ("!=*", "0.0.0", False),
    ("<1.x", "1.1.1", False),
    ("<1.x", "0.1.1", True),
    ("<1.x", "2.0.0", False),
    ("<1.1.x", "1.2.1", False),
    ("<1.1.x", "1.1.500", False),
    ("<1.1.x", "1.0.500", True),
    ("<1.2.x", "1.1.1", True),
    (">=1.1", "4.1.0-beta", False),
    ("<=1.1", "0.1.0-alpha", False),
    ("<=1.1-a", "0.1.0-alpha", True),
    ("<=1.x", "1.1.0", True),
    ("<=2.x", "3.0.0", False),
    ("<=1.1.x", "1.2.500", False),
    ("<=4.5", "3.7.0", True),
    ("<=4.5", "4.6.3", False),
    (">1.1, <2", "1.1.1", False),
    (">1.1, <2", "1.2.1", True),
    (">1.1, <3", "4.3.2", False),
    (">=1.1, <2, !=1.2.3", "1.2.3", False),
    (">1.1 <2", "1.2.1", True),
    (">1.1    <3", "4.3.2", False),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", False),
    (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", False),
    ("> 1.1, <     2", "1.1.1", False),
    (">   1.1, <2", "1.2.1", True),
    (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", True),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1", True),
    (">= 1.0.0  <= 2.0.0-beta", "3.0.0", False),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", True),
    # The prerelease opt-in is per OR group: "> 3" has none.
    (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", False),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3", "1.0.1-beta", False),
    (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", True),
    ("1.1 - 2", "1.1.1", True),
    ("1.5.0 - 4.5", "3.7.0", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("1.2 - 1.4.5", "1.1.9", False),
    ("1.1-3", "4.3.2", False),  # no spaces: a version with prerelease "3", not a range
    ("^1.1", "1.1.1", True),
    ("^1.1", "4.3.2", False),
    ("^1.x", "1.1.1", True),
    ("^2.x", "1.1.1", False),
    ("^1.x", "2.1.1", False),
    ("^1.x", "1.1.1-beta1", False),
    ("^1.1.2-alpha", "1.2.1-beta1", True),
    ("^1.2.x-alpha", "1.1.1-beta1", False),
    ("^0.0.1", "0.0.1", True),
    ("^0.0.1", "0.3.1", False),
    ("~*", "2.1.1", True),
    ("~1.x", "2.1.1", False),
    ("~1.x", "1.3.5", True),
    ("~1.1", "1.1.1-alpha", False),
    ("~1.1-alpha", "1.1.1-beta", True),
    ("~1.1.1-beta", "1.1.1-alpha", False),
    ("~1.1.1-beta", "1.1.1", True),
    ("~1.3.6-alpha", "1.3.5-beta", False),
    ("~1.3.5-alpha", "1.3.5-beta", True),
    ("~>1.2", "1.2.9", True),
    ("~>1.2", "1.3.0", False),
    ("=>1.2", "1.2.0", True),
    ("=<1.2", "1.2.9", True),
    ("v1.2.3", "1.2.3", True),
    ("1.2.3+build", "1.2.3+other", True),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", True),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", True),
    ("3 - 4 || => 3.0, < 4", "4.0.0", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECK_CASES)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    parsed = parse_semver(version, strict=False)
    assert parsed is not None
    assert parse_constraint(constraint).check(parsed) is expected


@pytest.mark.parametrize(
    "constraint",
    [
        "",
        " ",
        "foo",
        ">= bar",
        "BAR >= 1.2.3",
        "v1.2.3-beta.01",
        "12.3.4.1234",
        "12.23.4.1234",
        "12.3.34~ 1.2.3",
        "1.2 ||",
        "|| 1.2",
        ">1.2 - 1.4",
        "1|2",
        "1x",
        ">=1.0 <2.0 &&",
    ],
)
def test_invalid_constraints_raise_discovery_error(constraint: str) -> None:
    with pytest.raises(DiscoveryError, match=r"semver constraint .* is invalid"):
        parse_constraint(constraint)


@pytest.mark.parametrize(
    ("constraint", "normal"),
    [
        ("*", "*"),
        (">= 1.2.3", ">=1.2.3"),
        ("2.x,   >=1.2.3 || >4.5.6, < 5.7", "2.x >=1.2.3 || >4.5.6 <5.7"),
        ("> 1 , <=1.2.3", ">1 <=1.2.3"),
        ("1.2 - 1.4.5", ">=1.2 <=1.4.5"),
        ("12.3.34 ~1.2.3", "12.3.34 ~1.2.3"),
    ],
)
def test_constraint_terms(constraint: str, normal: str) -> None:
    parsed = parse_constraint(constraint)
    assert str(parsed) == normal
    assert parsed.text == constraint
    assert str(parse_constraint(str(parsed))) == normal


@pytest.mark.parametrize(
    "constraint",
    [
        "1" + " " * 5 + "1" + " " * 5 + "1" + " " * 5 + "1" + " " * 5 + "1" * 5 + " !",
        ("1" + " " * 5) * 40 + "!",
        ("1" + " " * 20) * 30 + "!",
        "1" + " " * 5000 + "!",
        " " * 5000 + "1 - !",
        "1" * 5000 + " - !",
        ("1 , " * 2000) + "!",
    ],
)
def test_pathological_constraints_fail_fast(constraint: str) -> None:
    # Go's regexp engine is linear; a naive port to a backtracking engine takes exponential
    # time on runs of whitespace between versions: minutes to ages, where this takes less
    # than a millisecond.
    with hang_alarm(20, "parsing the constraint"), pytest.raises(DiscoveryError):
        parse_constraint(constraint)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("0" * 5000 + "1.2.3", "1.2.3"),  # leading zeros are fine loosely, however many
        ("9" * 5000, None),  # beyond 64 bits
        ("1.2.3-" + "9" * 5000, "1.2.3-" + "9" * 5000),  # a huge identifier is text
    ],
)
def test_long_numbers(text: str, normal: str | None) -> None:
    version = parse_semver(text, strict=False)
    assert (str(version) if version else None) == normal
