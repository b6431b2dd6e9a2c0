"""Tokens of expr-lang, the language inside Kargo's ``${{ }}``.

Follows expr-lang v1.17's lexer (``parser/lexer``): the same token kinds, the same keyword
operators (``not in`` is one token), the same string escapes and number forms. Positions
are 0-based code-point offsets, which is what expr reports (it counts runes).
"""

import re
from dataclasses import dataclass
from enum import Enum

from kargo_dagster.errors import ExpressionError

__all__ = ["Kind", "Token", "tokenize"]


class Kind(Enum):
    """What a token is."""

    IDENTIFIER = "Identifier"
    NUMBER = "Number"
    STRING = "String"
    OPERATOR = "Operator"
    BRACKET = "Bracket"
    EOF = "EOF"


@dataclass(frozen=True)
class Token:
    """One token: its kind, its value (strings unescaped) and where it starts."""

    kind: Kind
    value: str
    pos: int

    def is_(self, kind: Kind, *values: str) -> bool:
        """True when the token has ``kind`` and, if given, one of ``values``."""
        return self.kind is kind and (not values or self.value in values)

    def __str__(self) -> str:
        return f"{self.kind.value}({self.value!r})" if self.value else self.kind.value


_WORD_OPERATORS = frozenset(
    {"in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
)
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}
_OPERATOR_RUNES = frozenset(",;%+-^/#.?|:&!=*<>")
_SECOND_RUNES = {
    "?": ".?",
    "|": "|",
    ":": ":",
    ".": ".",
    **dict.fromkeys("&!=*<>", "&=*"),
}
_HEX_WIDTH = {"x": 2, "X": 2, "u": 4, "U": 8}
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F_]*|0[oO][0-7_]*|0[bB][01_]*|[0-9_]*)"
    r"(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9_]*)?"
)


def _is_alnum(char: str) -> bool:
    # expr's identifiers: letters, digits, "_" and "$" (Unicode letters and digits too).
    return char == "_" or char == "$" or char.isalpha() or char.isdecimal()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def fail(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, expression=self.text, position=pos)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def emit(self, kind: Kind, value: str, start: int) -> None:
        self.tokens.append(Token(kind, value, start))

    def run(self) -> list[Token]:
        while self.pos < len(self.text):
            self.step()
        self.emit(Kind.EOF, "", max(len(self.text) - 1, 0))
        return self.tokens

    def step(self) -> None:
        start, char = self.pos, self.text[self.pos]
        if char.isspace():
            self.pos += 1
        elif char in "'\"":
            self.emit(Kind.STRING, self.quoted(char), start)
        elif char == "`":
            self.emit(Kind.STRING, self.raw(), start)
        elif char.isdigit() or (char == "." and self.peek(1).isdigit()):
            self.number()
        elif char == "/" and self.peek(1) in ("/", "*"):
            self.comment()
        elif _is_alnum(char):
            self.word()
        else:
            self.operator()

    def operator(self) -> None:
        start, char = self.pos, self.text[self.pos]
        self.pos += 1
        if char in "([{)]}":
            self.emit(Kind.BRACKET, char, start)
            return
        if char not in _OPERATOR_RUNES:
            raise self.fail(f"unrecognized character: {char!r}", start)
        # The second rune expr's lexer accepts after each first rune ("??", "?.", "||",
        # "::", "..", and "&&", "==", "!=", "**", "<=", ">=" and their odd cousins).
        if self.peek() and self.peek() in _SECOND_RUNES.get(char, ""):
            self.pos += 1
        self.emit(Kind.OPERATOR, self.text[start : self.pos], start)

    def word(self) -> None:
        start = self.pos
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
        word = self.text[start : self.pos]
        if word == "not":
            self.emit(Kind.OPERATOR, word, start)
            # "not in", "not matches", ...: the next word joins the operator family.
            after = self.pos
            while self.peek() == " ":
                self.pos += 1
            begin = self.pos
            while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
                self.pos += 1
            if self.text[begin : self.pos] in _NEGATABLE:
                self.emit(Kind.OPERATOR, self.text[begin : self.pos], begin)
            else:
                self.pos = after
            return
        kind = Kind.OPERATOR if word in _WORD_OPERATORS else Kind.IDENTIFIER
        self.emit(kind, word, start)

    def number(self) -> None:
        start = self.pos
        match = _NUMBER.match(self.text, start)
        end = match.end() if match else start
        if end < len(self.text) and _is_alnum(self.text[end]):
            raise self.fail(f"bad number syntax: {self.text[start : end + 1]!r}", end)
        self.pos = end
        self.emit(Kind.NUMBER, self.text[start:end], start)

    def comment(self) -> None:
        if self.peek(1) == "/":
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end + 1
            return
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            raise self.fail("unclosed comment", len(self.text) - 1)
        self.pos = end + 2

    def quoted(self, quote: str) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            char = self.peek()
            if char in ("", "\n"):
                raise self.fail("literal not terminated", start)
            self.pos += 1
            if char == quote:
                return "".join(out).replace("\r\n", "\n").replace("\r", "\n")
            out.append(self.escape() if char == "\\" else char)

    def escape(self) -> str:
        at = self.pos - 1
        char = self.peek()
        self.pos += 1
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char]
        if char == "u" and self.peek() == "{":
            end = self.text.find("}", self.pos)
            digits = self.text[self.pos + 1 : end] if end > 0 else ""
            if not 1 <= len(digits) <= 6 or not _all_hex(digits):
                raise self.fail("invalid char escape", at)
            self.pos = end + 1
            return self.code_point(int(digits, 16), at)
        if char in _HEX_WIDTH:
            digits = self.text[self.pos : self.pos + _HEX_WIDTH[char]]
            if len(digits) < _HEX_WIDTH[char] or not _all_hex(digits):
                raise self.fail("invalid char escape", at)
            self.pos += len(digits)
            return self.code_point(int(digits, 16), at)
        if char in "0123":
            digits = char + self.text[self.pos : self.pos + 2]
            if len(digits) < 3 or not all(d in "01234567" for d in digits):
                raise self.fail("invalid char escape", at)
            self.pos += 2
            return chr(int(digits, 8))
        raise self.fail("invalid char escape", at)

    def code_point(self, value: int, at: int) -> str:
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.fail("invalid char escape", at)
        return chr(value)

    def raw(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.fail("literal not terminated", start)
            self.pos += 1
            if char == "`":
                if self.peek() != "`":
                    return "".join(out)
                # A doubled backtick stands for one backtick.
                self.pos += 1
            out.append(char)


def _all_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, ending with an EOF token.

    Raises:
        ExpressionError: An unterminated string, a bad escape or number, or a character
            expr does not know, with its position.
    """
    return _Lexer(text).run()
