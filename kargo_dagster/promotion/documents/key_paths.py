"""Kargo's dotted key paths (``image.tag``, ``spec.containers.0.image``, ``a\\.b``).

The syntax follows tidwall/sjson as Kargo reads it: dots separate parts unless escaped with a
backslash; ``\\:`` is a literal colon; an unescaped colon may only open a part and marks a
numeric-looking part as a mapping key rather than a list index (``:0``).
"""

from dataclasses import dataclass

from kargo_dagster.errors import TerminalStepError


@dataclass(frozen=True)
class KeyPart:
    """One part of a key path.

    Attributes:
        text: The part with escapes removed.
        forced_key: The part began with an unescaped colon: a mapping key, never an index.
    """

    text: str
    forced_key: bool = False

    def index(self) -> int | None:
        """The part as a list index (``-1`` means "append"), or None when it is not one."""
        if self.forced_key:
            return None
        text = self.text
        if text.startswith("[") and text.endswith("]"):
            # Kargo still reads its legacy "[n]" index syntax.
            text = text[1:-1]
        body = text[1:] if text[:1] in "+-" else text
        if not body.isascii() or not body.isdigit():
            return None
        return int(text)


def split_key(key: str) -> list[KeyPart]:
    """Split a dotted key path into its parts.

    Raises:
        TerminalStepError: The key is empty, has an empty part, a misplaced colon or an
            escape other than ``\\.`` and ``\\:``.
    """
    stripped = key.strip()
    if not stripped:
        raise TerminalStepError("empty key")
    parts: list[KeyPart] = []
    current: list[str] = []
    forced = False
    escaped = False
    for char in stripped:
        if escaped:
            if char not in ".:":
                raise TerminalStepError(f"invalid escape sequence in key {key!r}")
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            if not current:
                raise TerminalStepError(f"empty key part in key {key!r}")
            parts.append(KeyPart("".join(current), forced))
            current, forced = [], False
        elif char == ":":
            if current:
                raise TerminalStepError(f"unexpected colon in key {key!r}")
            forced = True
        else:
            current.append(char)
    if not current:
        raise TerminalStepError(f"empty key part in key {key!r}")
    parts.append(KeyPart("".join(current), forced))
    return parts
