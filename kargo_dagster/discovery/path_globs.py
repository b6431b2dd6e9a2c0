"""Glob patterns for repository paths, with the semantics of Go's doublestar v4 ``Match``.

Kargo matches ``glob:`` path selectors with ``github.com/bmatcuk/doublestar/v4``. This
module gives the same answers by translating a pattern into a Python regular expression:

- ``*`` matches any run of characters other than ``/``; ``?`` matches one such character.
- ``**`` as a whole path segment matches any number of directories: ``a/**/b`` matches
  ``a/b`` and ``a/x/y/b``; a trailing ``/**`` matches everything below, and the directory
  itself (``a/**`` matches ``a``). Anywhere else ``**`` behaves like ``*``.
- ``[abc]``, ``[a-z]``, ``[^…]`` / ``[!…]`` character classes; ``{x,y}`` alternatives, which
  may nest and may be empty; ``\\`` escapes the next character.
- The whole path must match, case-sensitively.

Patterns doublestar rejects (an unclosed ``[`` or ``{``, an empty class, a stray ``}`` or a
trailing ``\\``) are rejected here too.
"""

import re

__all__ = ["compile_glob", "is_valid_glob"]


def is_valid_glob(pattern: str) -> bool:
    """Whether doublestar accepts ``pattern``."""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                return False
            i += 2
            continue
        if char == "[":
            i += 1
            if i < n and pattern[i] in "^!":
                i += 1
            if i >= n or pattern[i] == "]":
                return False
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            if i >= n:
                return False
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return False
            depth -= 1
        i += 1
    return depth == 0


def _skip_class(pattern: str, i: int) -> int:
    """The index just past the class that starts at ``pattern[i] == "["``."""
    i += 1
    if i < len(pattern) and pattern[i] in "^!":
        i += 1
    i += 1  # a "]" right after the opening bracket cannot close it (validation rejects "[]")
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _expand_braces(pattern: str) -> list[str]:
    """Every brace-free pattern the alternatives of ``pattern`` stand for."""
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
        elif char == "[":
            i = _skip_class(pattern, i)
        elif char == "{":
            break
        else:
            i += 1
    if i >= n:
        return [pattern]
    start, depth, alternatives, piece_start = i, 0, [], i + 1
    j = i
    while j < n:
        char = pattern[j]
        if char == "\\":
            j += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                alternatives.append(pattern[piece_start:j])
                break
        elif char == "," and depth == 1:
            alternatives.append(pattern[piece_start:j])
            piece_start = j + 1
        j += 1
    prefix, suffix = pattern[:start], pattern[j + 1 :]
    expanded: list[str] = []
    for alternative in alternatives:
        expanded.extend(_expand_braces(prefix + alternative + suffix))
    return expanded


def _class(pattern: str, i: int) -> tuple[str, int]:
    """The regex for the class starting at ``pattern[i] == "["`` and the index after it."""
    i += 1
    negate = pattern[i] in "^!"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while first or pattern[i] != "]":
        first = False
        char = pattern[i]
        if char == "\\":
            i += 1
            char = pattern[i]
        i += 1
        if pattern[i] == "-" and i + 1 < len(pattern) and pattern[i + 1] != "]":
            high = pattern[i + 1]
            i += 2
            if high == "\\":
                high = pattern[i]
                i += 1
            if char <= high:  # an inverted range matches nothing, as in doublestar
                items.append(f"{re.escape(char)}-{re.escape(high)}")
            continue
        items.append(re.escape(char))
    body = "".join(items)
    if not body:
        return ("[\\s\\S]" if negate else "(?!)"), i + 1
    return f"[{'^' if negate else ''}{body}]", i + 1


def _translate(pattern: str) -> str:
    parts: list[str] = []
    i, n = 0, len(pattern)
    start_of_segment = True
    while i < n:
        rest = pattern[i:]
        # doublestar lets a path that has run out match these tails too: "a/**" and
        # "a/**/" match the directory "a" itself.
        if rest == "/**":
            parts.append("(?:/.*)?")
            break
        if rest == "/**/":
            parts.append("(?:/(?:[^/]*/)*)?")
            break
        if rest == "**/":
            parts.append("(?:[^/]*/)*" if start_of_segment else "(?:[^/]*/)?")
            break
        char = pattern[i]
        if char == "*":
            double = rest.startswith("**")
            if double and start_of_segment and rest == "**":
                parts.append(".*")
                break
            if double and start_of_segment and rest.startswith("**/"):
                parts.append("(?:[^/]*/)*")  # zero or more whole directories
                i += 3
                continue
            # Anywhere else a double star is a single one, as in bash without globstar.
            if not parts or parts[-1] != "[^/]*":
                parts.append("[^/]*")
            i += 2 if double else 1
            start_of_segment = False
        elif char == "?":
            parts.append("[^/]")
            i += 1
            start_of_segment = False
        elif char == "[":
            regex, i = _class(pattern, i)
            parts.append(regex)
            start_of_segment = False
        else:
            if char == "\\":
                i += 1
                char = pattern[i]
            parts.append(re.escape(char))
            i += 1
            start_of_segment = char == "/"
    return "".join(parts)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regular expression that fully matches exactly the paths ``pattern`` matches.

    Raises:
        ValueError: doublestar would reject the pattern.
    """
    if not is_valid_glob(pattern):
        raise ValueError(f"invalid glob pattern {pattern!r}")
    alternatives = [_translate(p) for p in _expand_braces(pattern)]
    return re.compile("(?:" + "|".join(alternatives) + ")", re.DOTALL)
