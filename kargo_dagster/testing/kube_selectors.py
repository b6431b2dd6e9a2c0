"""Label and field selectors as the Kubernetes API server parses them for ``list``.

Label selectors: ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)`` and ``key notin (a,b)``, comma-separated and all required. ``notin`` and
``!=`` match objects without the label, as in Kubernetes. Field selectors: ``path=value``,
``path==value`` and ``path!=value`` on any dotted field path (``metadata.name``,
``involvedObject.name``); a real API server accepts only a few paths per kind, this one any.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SelectorError", "field_selector", "label_selector"]

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_KEY = re.compile(
    r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


class SelectorError(ValueError):
    """A selector that does not parse; the message is the API server's."""


def _terms(selector: str) -> list[str]:
    # Commas inside "in (a,b)" do not separate terms.
    terms: list[str] = []
    depth, start = 0, 0
    for position, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(selector[start:position])
            start = position + 1
    terms.append(selector[start:])
    return [term.strip() for term in terms if term.strip()]


def _key(key: str, term: str) -> str:
    key = key.strip()
    if not _KEY.match(key):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r} in {term!r}")
    return key


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    found = _SET_TERM.match(term)
    if found:
        key = _key(found["key"], term)
        values = {value.strip() for value in found["values"].split(",") if value.strip()}
        if found["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for operator in ("!=", "==", "="):
        if operator in term:
            key, value = (part.strip() for part in term.split(operator, 1))
            key = _key(key, term)
            if operator == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = _key(term[1:], term)
        return lambda labels: key not in labels
    key = _key(term, term)
    return lambda labels: key in labels


def label_selector(selector: str) -> Predicate:
    """A predicate on objects for a ``labelSelector`` query value.

    Raises:
        SelectorError: The selector does not parse.
    """
    tests = [_label_term(term) for term in _terms(selector)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return matches


def _field(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return str(node).lower()
    return str(node)


def field_selector(selector: str) -> Predicate:
    """A predicate on objects for a ``fieldSelector`` query value.

    Raises:
        SelectorError: The selector does not parse.
    """
    tests: list[Predicate] = []
    for term in _terms(selector):
        for operator in ("!=", "==", "="):
            if operator in term:
                path, value = (part.strip() for part in term.split(operator, 1))
                if not path:
                    raise SelectorError(f"invalid selector: {term!r}")
                if operator == "!=":
                    tests.append(lambda obj, p=path, v=value: _field(obj, p) != v)
                else:
                    tests.append(lambda obj, p=path, v=value: _field(obj, p) == v)
                break
        else:
            raise SelectorError(f"invalid selector: {term!r}; can't understand {term!r}")
    return lambda obj: all(test(obj) for test in tests)
