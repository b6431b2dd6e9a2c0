"""Reading chart names and versions out of a Helm repository's ``index.yaml``.

Indexes of public repositories run to many megabytes, and a pure-Python YAML parser takes
seconds per megabyte. Only ``entries.<chart>[].version`` matters, so the index is read as a
stream of YAML events, keeping those scalars and nothing else: with libyaml (PyYAML's C
parser, present wherever it is installed) that is well under a second for a large index.
Without libyaml the same events come from ruamel.yaml. A document that uses anchors and
aliases is loaded in full with ruamel.yaml's safe loader instead; both paths give the same
result.

Scalars stay the text that was written, as Kargo's Go decoder keeps them in a string field:
``version: 1.10`` is ``"1.10"``, not the float ``1.1``.
"""

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import ScalarNode

from kargo_dagster.errors import RepositoryError

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class ChartIndex:
    """What is kept of one ``index.yaml``.

    Attributes:
        versions: Chart name → the ``version`` of each of its entries, in index order.
        malformed: Chart name → what is wrong with its entries (other charts stay usable).
        etag: The ``ETag`` the index was served with.
        last_modified: The ``Last-Modified`` the index was served with.
    """

    versions: Mapping[str, tuple[str, ...]]
    malformed: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None


class _Malformed(Exception):
    """The document is YAML but not shaped like an index (message: what is wrong)."""


class _UsesAliases(Exception):
    """The document uses aliases, which an event stream cannot resolve on its own."""


def parse_index(content: bytes, where: str, *, fast: bool = True) -> ChartIndex:
    """Chart names and versions from the text of an ``index.yaml``.

    Args:
        content: The document (YAML or JSON).
        where: How messages name the repository (``'https://charts.example.com'``).
        fast: Stream events (libyaml when present); False loads the whole document with
            ruamel.yaml's safe loader, the reference behaviour.

    Raises:
        RepositoryError: It is not YAML, or not shaped like a Helm repository index.
    """
    try:
        if fast:
            try:
                return _from_events(_events(content))
            except _UsesAliases:
                pass
        return _from_document(_load(content))
    except _Malformed as exc:
        raise RepositoryError(f"the index of {where} is malformed: {exc}") from None
    except Exception as exc:
        if not _is_yaml_error(exc):
            raise
        raise RepositoryError(f"the index of {where} is not valid YAML ({_problem(exc)})") from None


def _is_yaml_error(exc: Exception) -> bool:
    if isinstance(exc, UnicodeDecodeError | ValueError):
        return True
    # ruamel.yaml's and PyYAML's errors share names but not classes.
    return any(cls.__name__ in ("YAMLError", "MarkedYAMLError") for cls in type(exc).__mro__)


def _problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if isinstance(problem, str) and problem:
        line = getattr(mark, "line", None)
        return f"{problem} at line {line + 1}" if isinstance(line, int) else problem
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the full load (reference behaviour) -------------------------------------------------


class _TextScalars(SafeConstructor):
    """ruamel.yaml's safe constructor, but numbers, booleans and dates stay text."""


def _scalar_text(constructor: SafeConstructor, node: ScalarNode) -> str:
    return str(constructor.construct_scalar(node))


for _tag in ("int", "float", "bool", "timestamp"):
    _TextScalars.add_constructor(f"tag:yaml.org,2002:{_tag}", _scalar_text)


def _load(content: bytes) -> Any:
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _TextScalars
    return yaml.load(content)


def _from_document(document: Any) -> ChartIndex:
    if document is None:
        return ChartIndex({})
    if not isinstance(document, dict):
        raise _Malformed(f"it is a {_kind(document)}, not a mapping with 'entries'")
    entries = document.get("entries")
    if entries is None:
        return ChartIndex({})
    if not isinstance(entries, dict):
        raise _Malformed(f"'entries' is a {_kind(entries)}, not a mapping of chart names")
    versions: dict[str, tuple[str, ...]] = {}
    malformed: dict[str, str] = {}
    for name, items in entries.items():
        try:
            versions[str(name)] = tuple(_versions_of(items))
        except _Malformed as exc:
            malformed[str(name)] = str(exc)
    return ChartIndex(versions, malformed)


def _versions_of(items: object) -> Iterator[str]:
    if items is None:
        return
    if not isinstance(items, list):
        raise _Malformed(f"its entry is a {_kind(items)}, not a list of chart versions")
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise _Malformed(f"item {position} is a {_kind(item)}, not a mapping")
        version = item.get("version")
        if version is None:
            continue  # no version: nothing Kargo could select
        if not isinstance(version, str):
            raise _Malformed(f"item {position} has a {_kind(version)} as its version")
        yield version


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "null" if value is None else "scalar"


# --- the event stream --------------------------------------------------------------------


def _events(content: bytes) -> Iterator[Any]:
    try:
        pyyaml: Any = importlib.import_module("yaml")
    except ImportError:
        pyyaml = None
    if pyyaml is not None and getattr(pyyaml, "__with_libyaml__", False):
        return iter(pyyaml.parse(content, Loader=pyyaml.CSafeLoader))
    return iter(YAML(typ="safe", pure=True).parse(content))


def _name(event: Any) -> str:
    return type(event).__name__.removesuffix("Event")


def _is_null(event: Any) -> bool:
    if event.tag == _NULL_TAG:
        return True
    return event.tag is None and bool(event.implicit[0]) and event.value in _NULLS


def _next(events: Iterator[Any]) -> Any:
    event = next(events)
    if _name(event) == "Alias" or getattr(event, "anchor", None):
        raise _UsesAliases
    return event


def _from_events(events: Iterator[Any]) -> ChartIndex:
    _next(events)  # StreamStart
    event = _next(events)
    if _name(event) == "StreamEnd":
        return ChartIndex({})
    root = _next(events)  # the first event after DocumentStart
    index = ChartIndex({})
    if _name(root) == "MappingStart":
        for key, value in _pairs(events):
            if key == "entries":
                index = _entries_from_events(value, events)
            else:
                _skip(value, events)
    elif _name(root) == "Scalar" and _is_null(root):
        pass
    else:
        _skip(root, events)
        kind = "list" if _name(root) == "SequenceStart" else "scalar"
        raise _Malformed(f"it is a {kind}, not a mapping with 'entries'")
    _next(events)  # DocumentEnd
    if _name(_next(events)) != "StreamEnd":
        raise _Malformed("it holds more than one YAML document")
    return index


def _pairs(events: Iterator[Any]) -> Iterator[tuple[str, Any]]:
    """(key, first event of the value) for each entry of the mapping being read.

    The caller must consume each value before asking for the next pair. Duplicate keys are
    refused, as ruamel.yaml and Kargo's Go decoder refuse them.
    """
    seen: set[str] = set()
    while True:
        event = _next(events)
        if _name(event) == "MappingEnd":
            return
        if _name(event) != "Scalar":
            _skip(event, events)
            _skip(_next(events), events)
            continue
        if event.value in seen:
            line = event.start_mark.line + 1 if event.start_mark is not None else "?"
            raise _Malformed(f"duplicate key {event.value!r} at line {line}")
        seen.add(event.value)
        yield event.value, _next(events)


def _items(events: Iterator[Any]) -> Iterator[Any]:
    while True:
        event = _next(events)
        if _name(event) == "SequenceEnd":
            return
        yield event


def _skip(event: Any, events: Iterator[Any]) -> None:
    if _name(event) == "MappingStart":
        for _, value in _pairs(events):
            _skip(value, events)
    elif _name(event) == "SequenceStart":
        for item in _items(events):
            _skip(item, events)


def _entries_from_events(event: Any, events: Iterator[Any]) -> ChartIndex:
    if _name(event) == "Scalar" and _is_null(event):
        return ChartIndex({})
    if _name(event) != "MappingStart":
        _skip(event, events)
        kind = "list" if _name(event) == "SequenceStart" else "scalar"
        raise _Malformed(f"'entries' is a {kind}, not a mapping of chart names")
    versions: dict[str, tuple[str, ...]] = {}
    malformed: dict[str, str] = {}
    for name, value in _pairs(events):
        problems: list[str] = []
        found = tuple(_versions_from_events(value, events, problems.append))
        if problems:
            malformed[name] = problems[0]
        else:
            versions[name] = found
    return ChartIndex(versions, malformed)


def _versions_from_events(
    event: Any, events: Iterator[Any], report: Callable[[str], None]
) -> Iterable[str]:
    if _name(event) == "Scalar" and _is_null(event):
        return []
    if _name(event) != "SequenceStart":
        _skip(event, events)
        kind = "mapping" if _name(event) == "MappingStart" else "scalar"
        report(f"its entry is a {kind}, not a list of chart versions")
        return []
    found: list[str] = []
    for position, item in enumerate(_items(events)):
        if _name(item) != "MappingStart":
            _skip(item, events)
            kind = "list" if _name(item) == "SequenceStart" else "scalar"
            kind = "null" if _name(item) == "Scalar" and _is_null(item) else kind
            report(f"item {position} is a {kind}, not a mapping")
            continue
        for key, value in _pairs(events):
            if key != "version":
                _skip(value, events)
            elif _name(value) != "Scalar":
                _skip(value, events)
                kind = "list" if _name(value) == "SequenceStart" else "mapping"
                report(f"item {position} has a {kind} as its version")
            elif not _is_null(value):
                found.append(value.value)
    return found
