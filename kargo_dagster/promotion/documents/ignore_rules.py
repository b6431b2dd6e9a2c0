"""``.gitignore``-style patterns, as the ``copy`` step applies them.

Patterns are relative to the copied directory (or a copied file's directory). A pattern
with a slash (other than a trailing one) is anchored there, one without matches a name at
any depth, a trailing slash matches only directories, ``**`` spans directories, ``!``
re-includes, and the last matching pattern decides. ``.git`` is always ignored.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    directories_only: bool


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("/.*")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", index + 2)
            if close == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : close].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = close
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


class IgnoreRules:
    """A set of ignore patterns."""

    def __init__(self, text: str | None) -> None:
        """Read the patterns, one a line; blank lines and ``#`` comments are skipped."""
        lines = [".git", *(text or "").splitlines()]
        self._rules = [
            self._rule(line) for line in lines if line.strip() and not line.startswith("#")
        ]

    @staticmethod
    def _rule(line: str) -> _Rule:
        pattern = line.rstrip(" ")
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        directories_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        anchored = "/" in pattern
        body = _glob_to_regex(pattern.lstrip("/"))
        prefix = "" if anchored else "(?:.*/)?"
        return _Rule(re.compile(f"{prefix}{body}"), negated, directories_only)

    def ignored(self, relative: str, is_dir: bool) -> bool:
        """Whether ``relative`` (slash-separated, under the pattern root) is ignored."""
        verdict = False
        for rule in self._rules:
            if rule.directories_only and not is_dir:
                continue
            if rule.regex.fullmatch(relative):
                verdict = not rule.negated
        return verdict
