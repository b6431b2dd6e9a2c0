"""YAML documents with the line of every key and list item.

This module turns a file into plain Python data (dicts, lists, str, int, float, bool, None)
plus an index from field paths (``("spec", "requestedFreight", 0, "origin")``) to 1-based
lines, so that a pydantic error ``loc`` or a cross-check can point at the exact line.

PyYAML's C parser (libyaml) reads the file into events; this module composes them into nodes
and builds the data itself rather than using PyYAML's composer and constructor, which follow
YAML 1.1 (``yes`` would be ``True``) and reject a reused anchor. The result is what
ruamel.yaml's round-trip loader, which read the manifests before, gave: values follow
:mod:`kargo_dagster.spec.yaml_values`, anchors may be reused (the latest wins), merge keys
(``<<``) add the keys a mapping does not set itself, and a duplicate key is an error.

A file is read only within limits, so that no file can stop the loader: at most
:data:`MAX_DOCUMENTS` documents, and the node and depth limits of
:mod:`kargo_dagster.spec.yaml_nodes`. Going past one is a problem like a syntax error.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import (
    DocumentStartEvent,
    StreamEndEvent,
)

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.yaml_nodes import (
    Mapping,
    Node,
    NodeBudget,
    RefusedError,
    Scalar,
    Sequence,
    compose,
    too_deep,
)
from kargo_dagster.spec.yaml_values import (
    MAP,
    MERGE,
    OMAP,
    PAIRS,
    SCALAR_TAGS,
    SEQ,
    SET,
    STR,
    YAML_1_2,
    Version,
    construct_scalar,
)

__all__ = ["MAX_DOCUMENTS", "Document", "FieldPath", "read_documents"]

FieldPath = tuple[str | int, ...]

MAX_DOCUMENTS = 1_000
"""Most documents (``---``) one file may hold, empty ones included."""

# libyaml is missing only from unusual PyYAML builds; the pure-Python parser reads the same
# YAML, more slowly.
_FAST_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
# Its error messages are worded as ruamel.yaml's were (both descend from PyYAML's parser) and
# say what was expected where libyaml's only say what went wrong.
_WORDY_LOADER: Any = yaml.BaseLoader
# It parses about 200 KB a second; a larger file keeps libyaml's message rather than wait.
_WORDY_MAX_CHARACTERS = 50_000
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file.

    Attributes:
        file: The file, as given to the loader.
        line: 1-based line of the document's first key.
        data: The document as plain Python data.
        lines: Line of each key and list item, by field path.
    """

    file: str
    line: int
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path``, or of its nearest ancestor present in the document."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.line


def read_documents(text: str, file: str) -> tuple[list[Document], list[ManifestProblem]]:
    """Parses every document of a YAML stream, skipping empty ones.

    Args:
        text: The file's content.
        file: The file name to report.

    Returns:
        The documents read before any syntax error, and a problem for that error (the rest
        of the file cannot be read reliably after it).
    """
    documents, failure = _read(_FAST_LOADER, text, file)
    failure = _own_depth_limit(failure)
    if (
        failure is not None
        and _FAST_LOADER is not _WORDY_LOADER
        and not isinstance(failure, ComposerError | ConstructorError | RefusedError)
        and len(text) <= _WORDY_MAX_CHARACTERS
    ):
        # A syntax error: parse the file again for a message that says what was expected. The
        # two parsers disagree on a few forms (the pure-Python one rejects tabs that YAML
        # allows), so its message is used only when it stopped at the same place.
        wordy = _parse_error(_WORDY_LOADER, text)
        if wordy is not None and _place(wordy) == _place(failure):
            failure = wordy
    return documents, [] if failure is None else [_syntax_problem(file, failure)]


def _parse_error(loader_class: Any, text: str) -> YAMLError | None:
    """Where parsing ``text`` fails, if it does; only parses, building nothing."""
    try:
        loader = loader_class(text)
    except YAMLError as exc:
        return exc
    try:
        while type(loader.get_event()) is not StreamEndEvent:
            pass
    except YAMLError as exc:
        return exc
    finally:
        loader.dispose()
    return None


def _own_depth_limit(failure: YAMLError | None) -> YAMLError | None:
    # libyaml stops at 1,000 nested brackets, sometimes before the composer sees the 101st
    # (it reads ahead on the line): the same refusal, in the same words.
    if isinstance(failure, MarkedYAMLError) and failure.problem == _LIBYAML_TOO_DEEP:
        return too_deep(failure.problem_mark)
    return failure


def _place(exc: YAMLError) -> tuple[int, int] | None:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return mark.line, mark.column
    return None


def _read(loader_class: Any, text: str, file: str) -> tuple[list[Document], YAMLError | None]:
    documents: list[Document] = []
    try:
        # The pure-Python reader checks every character as it starts.
        loader = loader_class(text)
    except YAMLError as exc:
        return documents, exc
    try:
        get_event: Callable[[], Any] = loader.get_event
        get_event()  # StreamStartEvent
        version = YAML_1_2
        budget = NodeBudget()
        count = 0
        while type(event := get_event()) is not StreamEndEvent:
            count += 1
            _check_count(count, event)
            # ruamel.yaml kept a %YAML version for the rest of the stream, not one document.
            version = event.version or version
            root = compose(get_event, version, budget)
            document = _Builder(version).document(file, root)
            if document is not None:
                documents.append(document)
    except YAMLError as exc:
        return documents, exc
    finally:
        loader.dispose()
    return documents, None


def _check_count(count: int, event: DocumentStartEvent) -> None:
    if count > MAX_DOCUMENTS:
        raise RefusedError(
            None,
            None,
            f"more than {MAX_DOCUMENTS:,} YAML documents in one file (the limit is "
            f"{MAX_DOCUMENTS:,}); split it into several files",
            event.start_mark,
        )


def _syntax_problem(file: str, exc: YAMLError) -> ManifestProblem:
    if isinstance(exc, RefusedError):
        return _refused_problem(file, exc)
    line = 1
    detail = " ".join(str(exc).split())
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line = mark.line + 1
        detail = str(exc.problem or exc.context or "unreadable document")
        if exc.problem and exc.context:
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            detail = f"{exc.problem} ({exc.context}{where})"
    return ManifestProblem(
        file=file,
        line=line,
        kind="",
        name="",
        field="",
        message=f"invalid YAML: {detail}; fix the indentation, quoting or punctuation there",
    )


def _refused_problem(file: str, exc: RefusedError) -> ManifestProblem:
    mark = exc.problem_mark
    return ManifestProblem(
        file=file,
        line=1 if mark is None else mark.line + 1,
        kind="",
        name="",
        field="",
        message=str(exc.problem),
    )


class _Builder:
    """Builds one document's plain data and its line index from the composed nodes.

    Every occurrence of an aliased node is built afresh, under its own path, with the lines
    where the anchored node was written.
    """

    def __init__(self, version: Version) -> None:
        self.version = version
        self.lines: dict[FieldPath, int] = {}
        # Collections being built: an alias to one of them makes the data contain itself,
        # which plain data cannot; ruamel.yaml read such an alias as null.
        self.building: set[int] = set()

    def document(self, file: str, root: Node) -> Document | None:
        data = self.value(root, ())
        if data is None:
            return None
        # ruamel.yaml knew the line of its mapping and list types only (not of sets or pairs).
        has_line = not isinstance(root, Scalar) and root.tag not in (SET, PAIRS)
        return Document(
            file=file, line=root.mark.line + 1 if has_line else 1, data=data, lines=self.lines
        )

    def value(self, node: Node, path: FieldPath) -> Any:
        if isinstance(node, Scalar):
            return node.value if node.tag == STR else self.scalar(node)
        identity = id(node)
        if identity in self.building:
            return None
        self.building.add(identity)
        if isinstance(node, Mapping):
            result = self.mapping(node, path)
        else:
            result = self.sequence(node, path)
        self.building.discard(identity)
        return result

    def isolated(self, node: Node, path: FieldPath) -> tuple[Any, dict[FieldPath, int]]:
        """Builds ``node`` with lines of its own, for the caller to keep or drop."""
        outer = self.lines
        self.lines = {}
        try:
            return self.value(node, path), self.lines
        finally:
            self.lines = outer

    def scalar(self, node: Scalar) -> Any:
        tag = node.tag
        if tag in (MAP, SET):
            raise ConstructorError(
                None, None, "expected a mapping node, but found scalar", node.mark
            )
        if tag == SEQ:
            raise ConstructorError(
                None, None, "expected a sequence node, but found scalar", node.mark
            )
        if tag in (OMAP, PAIRS):
            raise ConstructorError(
                _building(tag), node.mark, "expected a sequence, but found scalar", node.mark
            )
        try:
            return construct_scalar(tag, node.value, self.version)
        except ValueError as exc:
            raise ConstructorError(None, None, str(exc), node.mark) from None

    def sequence(self, node: Sequence, path: FieldPath) -> Any:
        tag = node.tag
        if tag in SCALAR_TAGS:
            raise ConstructorError(
                None, None, "expected a scalar node, but found sequence", node.mark
            )
        if tag in (MAP, SET):
            raise ConstructorError(
                None, None, "expected a mapping node, but found sequence", node.mark
            )
        if tag in (OMAP, PAIRS):
            return self.pairs(node, path)
        lines = self.lines
        items: list[Any] = []
        for index, child in enumerate(node.items):
            child_path = (*path, index)
            lines[child_path] = child.mark.line + 1
            items.append(self.value(child, child_path))
        return items

    def mapping(self, node: Mapping, path: FieldPath) -> Any:
        tag = node.tag
        if tag in SCALAR_TAGS:
            raise ConstructorError(
                None, None, "expected a scalar node, but found mapping", node.mark
            )
        if tag == SEQ:
            raise ConstructorError(
                None, None, "expected a sequence node, but found mapping", node.mark
            )
        if tag in (OMAP, PAIRS):
            raise ConstructorError(
                _building(tag), node.mark, "expected a sequence, but found mapping", node.mark
            )
        if tag == SET:
            return self.set(node)
        items = node.items
        # Merged mappings are built first, as ruamel.yaml did, so their errors come first.
        merged = self.merged(node, path) if any(k.tag == MERGE for k in items[::2]) else []
        lines = self.lines
        result: dict[Any, Any] = {}
        for index in range(0, len(items), 2):
            key_node = items[index]
            if key_node.tag == MERGE:
                continue
            key = self.key(node, key_node)
            child_path = (*path, key if type(key) is str else str(key))
            value = self.value(items[index + 1], child_path)
            if key in result:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.mark,
                    f'found duplicate key "{key}" with value "{value}" '
                    f'(original value: "{result[key]}")',
                    key_node.mark,
                )
            lines[child_path] = key_node.mark.line + 1
            result[key] = value
        depth = len(path)
        for source, source_lines in merged:
            # A key set here wins over merged ones, and an earlier merged mapping over a
            # later one; a merged key keeps the lines where it was written.
            adopted: set[str | int] = set()
            for key, value in source.items():
                if key not in result:
                    result[key] = value
                    adopted.add(str(key))
            for field_path, line in source_lines.items():
                if field_path[depth] in adopted:
                    lines.setdefault(field_path, line)
        return result

    def key(self, mapping: Node, key_node: Node) -> Any:
        if isinstance(key_node, Scalar):
            return key_node.value if key_node.tag == STR else self.scalar(key_node)
        # A list or mapping used as a key becomes a tuple (of items); ruamel.yaml kept no
        # lines inside keys.
        built, _ = self.isolated(key_node, ())
        key = tuple(built.items()) if isinstance(built, dict) else built
        key = tuple(key) if isinstance(key, list) else key
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(
                "while constructing a mapping", mapping.mark, "found unhashable key", key_node.mark
            ) from None
        return key

    def merged(
        self, node: Mapping, path: FieldPath
    ) -> list[tuple[dict[Any, Any], dict[FieldPath, int]]]:
        """The mappings that ``<<`` keys merge into ``node``, in order, with their lines."""
        sources: list[tuple[dict[Any, Any], dict[FieldPath, int]]] = []
        items = node.items
        for index in range(0, len(items), 2):
            key_node, value_node = items[index], items[index + 1]
            if key_node.tag != MERGE:
                continue
            if sources:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.mark,
                    'found duplicate merge key "<<"',
                    key_node.mark,
                )
            if isinstance(value_node, Mapping):
                candidates = [(value_node, self.isolated(value_node, path))]
            elif isinstance(value_node, Sequence):
                candidates = [(sub, self.isolated(sub, path)) for sub in value_node.items]
                for sub, _ in candidates:
                    if not isinstance(sub, Mapping):
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.mark,
                            f"expected a mapping for merging, but found {sub.kind}",
                            sub.mark,
                        )
            else:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.mark,
                    "expected a mapping or list of mappings for merging, but found "
                    f"{value_node.kind}",
                    value_node.mark,
                )
            # A mapping that merges one of its own ancestors gets nothing from it.
            sources.extend(built for _, built in candidates if isinstance(built[0], dict))
        return sources

    def set(self, node: Mapping) -> set[Any]:
        result: set[Any] = set()
        items = node.items
        for index in range(0, len(items), 2):
            key_node = items[index]
            key = self.key(node, key_node)
            self.isolated(items[index + 1], ())  # null, but built for its errors
            if key in result:
                raise ConstructorError(
                    "while constructing a set",
                    node.mark,
                    f'found duplicate key "{key}"',
                    key_node.mark,
                )
            result.add(key)
        return result

    def pairs(self, node: Sequence, path: FieldPath) -> Any:
        """``!!omap`` (a mapping, with lines) or ``!!pairs`` (a list of tuples, without)."""
        context = _building(node.tag)
        entries: list[tuple[Any, Any]] = []
        ordered: dict[Any, Any] = {}
        for sub in node.items:
            if not isinstance(sub, Mapping):
                raise ConstructorError(
                    context,
                    node.mark,
                    f"expected a mapping of length 1, but found {sub.kind}",
                    sub.mark,
                )
            if len(sub.items) != 2:
                raise ConstructorError(
                    context,
                    node.mark,
                    f"expected a single mapping item, but found {len(sub.items) // 2:d} items",
                    sub.mark,
                )
            key_node, value_node = sub.items
            key = self.key(sub, key_node)
            if node.tag == PAIRS:
                entries.append((key, self.isolated(value_node, ())[0]))
                continue
            child_path = (*path, str(key))
            value = self.value(value_node, child_path)
            if key in ordered:
                raise ConstructorError(
                    context,
                    node.mark,
                    f'found duplicate key "{key}" with value "{value}" '
                    f'(original value: "{ordered[key]}")',
                    key_node.mark,
                )
            self.lines[child_path] = key_node.mark.line + 1
            ordered[key] = value
        return entries if node.tag == PAIRS else ordered


def _building(tag: str) -> str:
    return "while constructing an ordered map" if tag == OMAP else "while constructing pairs"
