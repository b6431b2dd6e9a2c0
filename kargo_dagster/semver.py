"""Semantic versions and version ranges with the exact rules Kargo gets from Masterminds semver v3.

Kargo parses tags and chart versions with ``github.com/Masterminds/semver/v3`` and filters
them with its constraints. The rules here reproduce that library's behaviour, quirks
included, because a Warehouse must pick the same versions here as under Kargo:

* Loose parsing (``NewVersion``) accepts a leading ``v``, missing minor/patch (``1``,
  ``1.2``) and leading zeros in the numeric parts (``01.2.3``).
* Strict parsing (``StrictNewVersion``) needs ``MAJOR.MINOR.PATCH`` without leading zeros
  and without a ``v``. Kargo's ``strictSemvers`` strips one leading ``v`` before the strict
  check, so ``v1.2.3`` passes there; OCI chart tags are checked without stripping it.
* Precedence ignores build metadata; a prerelease sorts below its release.
* A constraint group (terms joined by spaces or commas) only admits a prerelease version
  when at least one of its terms names a prerelease (``>=1.2.0-0``); there is no
  "same major.minor.patch" restriction as in npm.
"""

import functools
import re
from dataclasses import dataclass

from kargo_dagster.errors import DiscoveryError

_UINT64_MAX = 2**64 - 1
_DIGITS = re.compile(r"[0-9]+")
_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+")

# The loose grammar Masterminds uses when it coerces versions; validated further below.
_LOOSE = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed semantic version.

    Ordering is semver precedence (build metadata ignored, a prerelease below its release);
    versions of equal precedence are then ordered by ``original`` text, then metadata, the
    tie-break Kargo uses so that sorting is deterministic (``1.0.0`` after ``1.0``).

    Attributes:
        major: Major number.
        minor: Minor number (0 when the text had none).
        patch: Patch number (0 when the text had none).
        prerelease: Dot-separated prerelease identifiers without the ``-``, or ``""``.
        metadata: Build metadata without the ``+``, or ``""``.
        original: The text the version was parsed from (what Kargo records in Freight).
    """

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = ""

    def compare(self, other: "Version") -> int:
        """-1, 0 or 1 as ``self`` has lower, equal or higher precedence than ``other``."""
        mine = (self.major, self.minor, self.patch)
        theirs = (other.major, other.minor, other.patch)
        if mine != theirs:
            return -1 if mine < theirs else 1
        if self.prerelease == other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        order = self.compare(other)
        if order:
            return order < 0
        return (self.original, self.metadata) < (other.original, other.metadata)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text


def _compare_prerelease(left: str, right: str) -> int:
    lparts, rparts = left.split("."), right.split(".")
    for index in range(max(len(lparts), len(rparts))):
        lpart = lparts[index] if index < len(lparts) else ""
        rpart = rparts[index] if index < len(rparts) else ""
        order = _compare_identifier(lpart, rpart)
        if order:
            return order
    return 0


def _as_uint(text: str) -> int | None:
    """``text`` as Go's ``strconv.ParseUint(text, 10, 64)`` reads it, or None.

    ASCII digits only (leading zeros allowed) and at most 2**64 - 1. Masterminds treats a
    prerelease identifier as numeric exactly when this succeeds.
    """
    if not _DIGITS.fullmatch(text):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > 20:  # also keeps int() clear of its limit on long digit strings
        return None
    value = int(significant)
    return value if value <= _UINT64_MAX else None


def _triple(numbers: list[str]) -> tuple[int, int, int] | None:
    major, minor, patch = (_as_uint(n) for n in numbers)
    if major is None or minor is None or patch is None:
        return None
    return major, minor, patch


def _compare_identifier(left: str, right: str) -> int:
    if left == right:
        return 0
    if not left:
        return -1
    if not right:
        return 1
    lnum, rnum = _as_uint(left), _as_uint(right)
    if lnum is None and rnum is None:
        return 1 if left > right else -1
    if lnum is None:
        return 1  # numeric identifiers have lower precedence than alphanumeric ones
    if rnum is None:
        return -1
    return 1 if lnum > rnum else -1


def _valid_prerelease(text: str) -> bool:
    for part in text.split("."):
        if _DIGITS.fullmatch(part):
            if len(part) > 1 and part[0] == "0":
                return False
        elif not _IDENTIFIER.fullmatch(part):
            return False
    return True


def _valid_metadata(text: str) -> bool:
    return all(_IDENTIFIER.fullmatch(part) for part in text.split("."))


def _loose(text: str) -> Version | None:
    match = _LOOSE.fullmatch(text)
    if match is None:
        return None
    numbers = [match[1], (match[2] or ".0")[1:], (match[3] or ".0")[1:]]
    values = _triple(numbers)
    if values is None:
        return None
    prerelease, metadata = match[5] or "", match[8] or ""
    if prerelease and not _valid_prerelease(prerelease):
        return None
    if metadata and not _valid_metadata(metadata):
        return None
    return Version(values[0], values[1], values[2], prerelease, metadata, text)


def _strict(text: str) -> Version | None:
    parts = text.split(".", 2)
    if len(parts) != 3:
        return None
    last, plus, metadata = parts[2].partition("+")
    if plus and not _valid_metadata(metadata):
        return None
    last, dash, prerelease = last.partition("-")
    if dash and not _valid_prerelease(prerelease):
        return None
    numbers = [parts[0], parts[1], last]
    for number in numbers:
        if not _DIGITS.fullmatch(number) or (len(number) > 1 and number[0] == "0"):
            return None
    values = _triple(numbers)
    if values is None:
        return None
    return Version(values[0], values[1], values[2], prerelease, metadata, text)


def parse_semver(text: str, *, strict: bool) -> Version | None:
    """Parse a tag or chart version the way Kargo does, or return None if it is not semver.

    Args:
        text: The tag or version.
        strict: Kargo's ``strictSemvers``: also require ``MAJOR.MINOR.PATCH`` with no
            leading zeros (one leading ``v`` is still allowed).

    Returns:
        The version, whose ``original`` is ``text`` unchanged, or None.
    """
    version = _loose(text)
    if version is None:
        return None
    if strict and _strict(text.removeprefix("v")) is None:
        return None
    return version


def parse_strict_semver(text: str) -> Version | None:
    """Masterminds' ``StrictNewVersion``: exact ``MAJOR.MINOR.PATCH[-pre][+meta]``, no ``v``.

    Kargo uses this, not :func:`parse_semver`, for the tags of OCI Helm charts.
    """
    return _strict(text)


# --- Constraints --------------------------------------------------------------------------

# Go's \s is ASCII whitespace without \v; Python's would match more.
_WS = r"[\t\n\f\r ]"
# The operator alternation has an empty alternative (a bare version means "=" or "~").
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
# A version in a constraint; Masterminds' character class also admits "|" (a quirk kept so
# the same strings are accepted and rejected).
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_TERM = re.compile(rf"{_WS}*({_OPS}){_WS}*({_CV}){_WS}*")
# Masterminds' hyphen-range pattern with possessive quantifiers: the same groups match the
# same text (a version is followed by whitespace or the end, which none of its parts can
# give back to), but a failed attempt is not rescanned in every possible split.
_CV_POSSESSIVE = (
    r"v?([0-9|x|X|\*]++)(\.[0-9|x|X|\*]++)?+(\.[0-9|x|X|\*]++)?+"
    r"(-([0-9A-Za-z\-]++(\.[0-9A-Za-z\-]++)*+))?+"
    r"(\+([0-9A-Za-z\-]++(\.[0-9A-Za-z\-]++)*+))?+"
)
_RANGE = re.compile(rf"{_WS}*+({_CV_POSSESSIVE}){_WS}++-{_WS}++({_CV_POSSESSIVE}){_WS}*+")
_FIND = re.compile(rf"({_OPS}){_WS}*({_CV})")
# Which AND groups are well formed. Masterminds' pattern for this,
#   \s*(ops)\s*(cv)\s*((?:\s+|,\s*)(ops)\s*(cv)\s*)*
# splits runs of whitespace in many ways; Go's regexp engine is linear, but a backtracking
# one takes exponential time on "1     1     1     !". This pattern accepts the same
# strings with possessive quantifiers and atomic groups, so it never backtracks far: a
# version cannot start with whitespace, a comma or an operator character, so each run of
# them has a single reading.
_CV_ATOMIC = (
    r"v?[0-9|xX*]++(?:\.[0-9|xX*]++)?+(?:\.[0-9|xX*]++)?+"
    r"(?:-[0-9A-Za-z-]++(?:\.[0-9A-Za-z-]++)*+)?+"
    r"(?:\+[0-9A-Za-z-]++(?:\.[0-9A-Za-z-]++)*+)?+"
)
_TERM_ATOMIC = rf"(?>(?:{_OPS}){_WS}*+{_CV_ATOMIC})"
_VALID_GROUP = re.compile(
    rf"{_WS}*+{_TERM_ATOMIC}(?:(?>{_WS}*+,{_WS}*+|{_WS}++){_TERM_ATOMIC})*+{_WS}*+"
)
_HAS_RANGE = re.compile(rf"{_WS}-{_WS}")  # what every hyphen range contains
_RANGE_SECOND = 11  # group number of the range's upper bound (1 + the 9 groups of _CV + 1)

_CANONICAL_OPS = {"": "=", "=": "=", "=>": ">=", "=<": "<=", "~>": "~"}


def _is_wildcard(text: str) -> bool:
    return text in ("x", "X", "*")


@dataclass(frozen=True)
class _Term:
    """One comparison such as ``>=1.2``: operator, bound, and which parts were wildcards."""

    operator: str  # as written ("" for a bare version)
    text: str  # the version as written
    bound: Version
    dirty: bool  # some part was a wildcard or missing
    minor_dirty: bool  # minor and patch were wildcards or missing
    patch_dirty: bool  # only patch was a wildcard or missing

    def check(self, version: Version, include_prerelease: bool) -> bool:
        if version.prerelease and not include_prerelease:
            return False
        op = _CANONICAL_OPS.get(self.operator, self.operator)
        order = version.compare(self.bound)
        if op == "=":
            return self._tilde(version, order) if self.dirty else order == 0
        if op == "!=":
            return self._not_equal(version, order)
        if op == ">":
            return self._greater(version, order)
        if op == "<":
            return order < 0
        if op == ">=":
            return order >= 0
        if op == "<=":
            return self._less_equal(version, order)
        if op == "~":
            return self._tilde(version, order)
        return self._caret(version, order)

    def _not_equal(self, v: Version, order: int) -> bool:
        b = self.bound
        if self.dirty:
            if b.major != v.major:
                return True
            if b.minor != v.minor and not self.minor_dirty:
                return True
            if self.minor_dirty:
                return False
            if b.patch != v.patch and not self.patch_dirty:
                return True
            if self.patch_dirty:
                if v.prerelease or b.prerelease:
                    return _compare_prerelease(v.prerelease, b.prerelease) != 0
                return False
        return order != 0

    def _greater(self, v: Version, order: int) -> bool:
        b = self.bound
        if not self.dirty:
            return order > 0
        if v.major != b.major:
            return v.major > b.major
        if self.minor_dirty:
            return False  # >11 needs 12 or higher
        if self.patch_dirty:
            return v.minor > b.minor  # >11.1 needs 11.2 or higher
        return order > 0

    def _less_equal(self, v: Version, order: int) -> bool:
        b = self.bound
        if not self.dirty:
            return order <= 0
        if v.major > b.major:
            return False
        return not (v.major == b.major and v.minor > b.minor and not self.minor_dirty)

    def _tilde(self, v: Version, order: int) -> bool:
        b = self.bound
        if order < 0:
            return False
        if (b.major, b.minor, b.patch) == (0, 0, 0) and not (self.minor_dirty or self.patch_dirty):
            return True  # ~0.0.0 and ~* admit everything
        if v.major != b.major:
            return False
        return v.minor == b.minor or self.minor_dirty

    def _caret(self, v: Version, order: int) -> bool:
        b = self.bound
        if order < 0:
            return False
        if b.major > 0 or self.minor_dirty:
            return v.major == b.major
        if v.major > 0:
            return False
        if b.minor > 0 or self.patch_dirty:
            return v.minor == b.minor
        if v.minor > 0:
            return False
        return v.patch == b.patch

    def __str__(self) -> str:
        return f"{self.operator}{self.text}"


@dataclass(frozen=True)
class Constraint:
    """A parsed version range: OR groups (``||``) of AND-ed terms (space or comma separated).

    Attributes:
        text: The constraint as written.
    """

    text: str
    _groups: tuple[tuple[_Term, ...], ...]

    def check(self, version: Version) -> bool:
        """Whether ``version`` satisfies the range (Masterminds ``Constraints.Check``)."""
        for group in self._groups:
            include_prerelease = any(term.bound.prerelease for term in group)
            if all(term.check(version, include_prerelease) for term in group):
                return True
        return False

    def __str__(self) -> str:
        return " || ".join(" ".join(str(term) for term in group) for group in self._groups)


def _rewrite_ranges(text: str) -> str:
    # "1.2 - 1.4.5" becomes ">= 1.2, <= 1.4.5 ", replacing the first occurrence of each
    # matched text in turn, as Masterminds does.
    rewritten = text
    if _HAS_RANGE.search(text) is None:
        return text  # spares the quadratic scan below on long inputs without a range
    for match in _RANGE.finditer(text):
        rewritten = rewritten.replace(match[0], f">= {match[1]}, <= {match[_RANGE_SECOND]} ", 1)
    return rewritten


def _parse_term(text: str, constraint: str) -> _Term:
    match = _TERM.fullmatch(text)
    if match is None:
        raise DiscoveryError(f"semver constraint {constraint!r} is invalid: cannot read {text!r}")
    major, minor, patch, pre = match[3], match[4] or "", match[5] or "", match[6] or ""
    dirty = minor_dirty = patch_dirty = False
    version_text = match[2]
    if _is_wildcard(major):
        version_text, dirty = f"0.0.0{pre}", True
    elif not minor or _is_wildcard(minor[1:]):
        version_text, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
    elif not patch or _is_wildcard(patch[1:]):
        version_text, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
    bound = _loose(version_text)
    if bound is None:
        raise DiscoveryError(
            f"semver constraint {constraint!r} is invalid: {match[2]!r} is not a version"
        )
    return _Term(match[1], match[2], bound, dirty, minor_dirty, patch_dirty)


def parse_constraint(text: str) -> Constraint:
    """Parse a semver range as Masterminds ``NewConstraint`` does.

    Supports ``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=`` (and ``=>``, ``=<``), ``~``/``~>``,
    ``^``, ``x``/``X``/``*`` wildcards and missing parts, hyphen ranges (``1.2 - 1.4.5``),
    terms AND-ed by spaces or commas and OR-ed by ``||``. An empty string is not a
    constraint (Kargo skips filtering when none is set).

    Raises:
        DiscoveryError: The text is not a valid constraint; the message quotes it.
    """
    rewritten = _rewrite_ranges(text)
    groups: list[tuple[_Term, ...]] = []
    for segment in rewritten.split("||"):
        if _VALID_GROUP.fullmatch(segment) is None:
            raise DiscoveryError(
                f"semver constraint {text!r} is invalid: {segment.strip()!r} is not a "
                "version range (write e.g. '^1.2', '>=1.0.0 <2.0.0' or '1.x')"
            )
        terms = [m[0] for m in _FIND.finditer(segment)] or [segment]
        groups.append(tuple(_parse_term(term, text) for term in terms))
    return Constraint(text, tuple(groups))
