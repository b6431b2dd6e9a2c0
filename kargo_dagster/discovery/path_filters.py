"""Kargo's ``includePaths``/``excludePaths`` selectors for git subscriptions.

A selector is one of (Kargo ``pkg/pattern.ParsePathPattern``):

- ``glob:<pattern>``: a doublestar glob over the whole path (see ``path_globs``);
- ``regex:<re>`` or ``regexp:<re>``: a regular expression found anywhere in the path;
- anything else: a base directory; a path matches when it is that directory or lies
  under it. As in Kargo (Go's ``filepath.Rel``), both are cleaned first (``./a/`` is
  ``a``), an empty selector or ``.`` matches every relative path, and a path whose
  remainder under the base contains ``..`` anywhere (even in a name like ``a..b``) does
  not match.

A commit qualifies when at least one changed path is included (every path is, without
include selectors) and not excluded (Kargo ``baseSelector.MatchesPaths``).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kargo_dagster.discovery.path_globs import compile_glob
from kargo_dagster.errors import DiscoveryError
from kargo_dagster.urls import go_path_join

__all__ = ["PathFilter", "PathSelector", "parse_path_selector"]


class PathSelector(Protocol):
    """Anything that says whether a repository path is selected."""

    def matches(self, path: str) -> bool:
        """Whether ``path`` (``/``-separated, relative to the repository root) is selected."""
        ...


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    whole: bool

    def matches(self, path: str) -> bool:
        found = self.regex.fullmatch(path) if self.whole else self.regex.search(path)
        return found is not None


def _clean(path: str) -> str:
    return go_path_join(path) or "."


def _relative(base: str, target: str) -> str | None:
    """Go's ``filepath.Rel`` on ``/`` paths: ``target`` relative to ``base``, or None."""
    base, target = _clean(base), _clean(target)
    if base == target:
        return "."
    if base == ".":
        base = ""
    if base.startswith("/") != target.startswith("/"):
        return None
    base_parts = [p for p in base.split("/") if p]
    target_parts = [p for p in target.split("/") if p]
    common = 0
    while (
        common < len(base_parts)
        and common < len(target_parts)
        and base_parts[common] == target_parts[common]
    ):
        common += 1
    remaining_base = base_parts[common:]
    if remaining_base:
        if remaining_base[0] == "..":
            return None
        return "/".join([".."] * len(remaining_base) + target_parts[common:])
    return "/".join(target_parts[common:])


@dataclass(frozen=True)
class _BaseDirectory:
    base: str

    def matches(self, path: str) -> bool:
        relative = _relative(self.base, path)
        return relative is not None and ".." not in relative


def parse_path_selector(selector: str) -> PathSelector:
    """The matcher for one ``includePaths``/``excludePaths`` entry.

    Raises:
        DiscoveryError: The glob or regular expression is invalid.
    """
    try:
        if selector.startswith("glob:"):
            return _Pattern(compile_glob(selector.removeprefix("glob:")), whole=True)
        for prefix in ("regex:", "regexp:"):
            if selector.startswith(prefix):
                return _Pattern(re.compile(selector.removeprefix(prefix)), whole=False)
    except (ValueError, re.error) as error:
        raise DiscoveryError(f"invalid path selector {selector!r}: {error}") from None
    return _BaseDirectory(selector)


@dataclass(frozen=True)
class PathFilter:
    """Include and exclude selectors together; None for a side means "not constrained"."""

    include: tuple[PathSelector, ...] | None
    exclude: tuple[PathSelector, ...] | None

    @classmethod
    def from_selectors(cls, include: Sequence[str], exclude: Sequence[str]) -> "PathFilter | None":
        """The filter for a subscription's selectors, or None when it has none.

        Raises:
            DiscoveryError: A selector is invalid; the message names the field.
        """
        parsed: list[tuple[PathSelector, ...] | None] = []
        for field, selectors in (("includePaths", include), ("excludePaths", exclude)):
            try:
                parsed.append(tuple(parse_path_selector(s) for s in selectors) or None)
            except DiscoveryError as error:
                raise DiscoveryError(f"{field}: {error}") from None
        if parsed[0] is None and parsed[1] is None:
            return None
        return cls(include=parsed[0], exclude=parsed[1])

    def selects(self, path: str) -> bool:
        """Whether ``path`` is included and not excluded."""
        if self.include is not None and not any(s.matches(path) for s in self.include):
            return False
        return self.exclude is None or not any(s.matches(path) for s in self.exclude)

    def accepts(self, changed_paths: Iterable[str]) -> bool:
        """Whether a commit that changed ``changed_paths`` qualifies (any selected path)."""
        return any(self.selects(path) for path in changed_paths)
