"""Merging YAML documents the way Kargo's ``yaml-merge`` does (kustomize's kyaml ``merge2``).

Each later document is merged over the result of the earlier ones:

* mappings merge key by key, recursively; keys the earlier files have keep their place and
  keys that only a later file has are appended, in sorted order;
* a scalar or a list in a later file replaces the earlier value (lists are not merged);
* ``null`` (``~``, or nothing after the colon) in a later file removes the key; a ``null``
  document removes everything merged so far;
* a mapping holding ``$patch: replace`` replaces the earlier mapping instead of merging into
  it, and ``$patch: delete`` removes it (strategic-merge directives);
* a key whose value is a mapping in one file and a scalar or list in another is an error.

Only the first document of each file counts, and an empty file is skipped. Walking a merge
also settles a few things the way kyaml's writer does, so that the output matches Kargo's:
keys left with nothing after the colon disappear (an explicit ``null`` stays); a replaced
scalar takes the quoting of the value it replaces; plain strings that YAML 1.1 readers (Helm
among them) would take for booleans, such as ``yes`` or ``on``, are double-quoted. The result
is written with two-space indentation and list items at their key's indentation.

Comments of the first file stay where they are; a replaced value carries the end-of-line
comment of the file it came from. Anchors and aliases are kept in a single file; in a merge,
each alias becomes a copy of the value it refers to (kyaml would drop the aliased key). In
the rare layouts where the writer would misplace a comment so that the text no longer reads
back as the merged values, the result is written without comments.
"""

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.anchor import Anchor
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.tokens import CommentToken

from kargo_dagster.errors import TerminalStepError

__all__ = ["MergeInput", "merge_documents"]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_PATCH_KEY = "$patch"

# Words a YAML 1.1 reader (go-yaml v2, and so Helm) takes for booleans when unquoted; kyaml
# double-quotes such plain strings whenever it sets a field.
_YAML11_BOOLS = frozenset(
    "y Y yes Yes YES n N no No NO on On ON off Off OFF true True TRUE false False FALSE".split()
)
_QUOTED_OR_BLOCK = ("'", '"', "|", ">")

Kind = Literal["mapping", "list", "scalar"]
Directive = Literal["merge", "replace", "delete"]


@dataclass(frozen=True)
class MergeInput:
    """One file to merge.

    Attributes:
        shown: The file as the step's configuration names it, for messages.
        text: Its content.
    """

    shown: str
    text: str


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    # kyaml writes with two-space indentation and list items at their key's column, and never
    # folds long lines.
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 2**31 - 1
    return yaml


def _first_document(yaml: YAML, source: MergeInput) -> Node | None:
    try:
        # Only the first document counts; the rest of the stream is not even parsed.
        return next(iter(yaml.compose_all(source.text)), None)
    except YAMLError as error:
        raise TerminalStepError(f"cannot parse {source.shown!r} as YAML: {error}") from error


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL)


def _kind(node: Node) -> Kind:
    if isinstance(node, MappingNode):
        return "mapping"
    if isinstance(node, SequenceNode):
        return "list"
    return "scalar"


def _key_text(key: Node) -> str | None:
    return key.value if isinstance(key, ScalarNode) else None


def _field(mapping: Node | None, name: str) -> Node | None:
    if not isinstance(mapping, MappingNode):
        return None
    for key, value in mapping.value:
        if _key_text(key) == name:
            return value
    return None


def _field_key(mapping: Node | None, name: str) -> Node | None:
    if not isinstance(mapping, MappingNode):
        return None
    for key, _value in mapping.value:
        if _key_text(key) == name:
            return key
    return None


def _names(*mappings: Node | None) -> list[str]:
    names: set[str] = set()
    for mapping in mappings:
        if isinstance(mapping, MappingNode):
            names.update(text for key, _ in mapping.value if (text := _key_text(key)) is not None)
    # Go sorts strings by their UTF-8 bytes, which is code point order.
    return sorted(names)


# --- comments -------------------------------------------------------------------------------
#
# ruamel keeps the comment lines that follow a value (the next key's head comment, blank
# lines) in the same token as the value's end-of-line comment. When a value is replaced or
# removed, the end-of-line part goes with it but the lines after it belong to what follows.


def _trailing_holder(node: Node) -> Node:
    """The node whose comment token is printed right after ``node``'s whole value."""
    if isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        return _trailing_holder(last[1] if isinstance(node, MappingNode) else last)
    return node


def _split_token(node: Node) -> tuple[str, str]:
    """``(end-of-line comment, following lines)`` of the comment token after ``node``.

    The end-of-line comment comes without its newline; the following lines keep theirs.
    """
    comment: Any = getattr(node, "comment", None)
    if not comment or comment[0] is None:
        return "", ""
    text: str = comment[0].value
    if text.startswith("#"):
        eol, _newline, following = text.partition("\n")
        return eol, following
    return "", text.removeprefix("\n")


def _set_trailing(node: Node, eol: str, following: str) -> None:
    comment: Any = getattr(node, "comment", None)
    if not eol and not following:
        if comment:
            comment[0] = None
        return
    # One space before an end-of-line comment, as go-yaml writes it.
    token = CommentToken(eol + "\n" + following, start_mark=CommentMark(0))
    if comment:
        comment[0] = token
    else:
        node.comment = [token, None]


def _set_head_comment(mapping: MappingNode, lines: str) -> None:
    """Make ``lines`` the head comment of the mapping's first key."""
    comment: Any = getattr(mapping, "comment", None)
    before: list[Any] = list(comment[1] or []) if comment and len(comment) > 1 else []
    # Comments set off by a blank line head the document or the parent, not the key.
    kept = [token for token in before if token.value.endswith("\n\n")]
    text = lines.lstrip("\n")
    if text:
        indent = len(text) - len(text.lstrip(" "))
        kept.append(CommentToken(text[indent:], start_mark=CommentMark(indent)))
    if comment:
        while len(comment) < 2:
            comment.append(None)
        comment[1] = kept or None
    elif kept:
        mapping.comment = [None, kept]


def _replace_comments(old: Node, new: Node) -> None:
    """Give ``new`` the end-of-line comment of its own file and ``old``'s following lines."""
    new_holder = _trailing_holder(new)
    eol, _theirs = _split_token(new_holder)
    _eol, following = _split_token(_trailing_holder(old))
    _set_trailing(new_holder, eol, following)


def _strip_following(node: Node) -> None:
    holder = _trailing_holder(node)
    eol, _following = _split_token(holder)
    _set_trailing(holder, eol, "")


# --- the walk --------------------------------------------------------------------------------


@dataclass
class _Merge:
    """One merge of a later document (``src``) over the result so far (``dest``)."""

    shown: str
    kept_nulls: set[int] = field(default_factory=set[int])

    def walk(self, dest: Node | None, src: Node | None, path: tuple[str, ...]) -> Node | None:
        """The merged value of ``dest`` and ``src``; None removes the key."""
        kinds: list[Kind] = [_kind(n) for n in (dest, src) if n is not None and not _is_null(n)]
        if len(kinds) == 2 and kinds[0] != kinds[1]:
            where = repr(".".join(path)) if path else "the document"
            raise TerminalStepError(
                f"cannot merge {self.shown!r}: {where} is a {kinds[1]} there but a "
                f"{kinds[0]} in the files before it"
            )
        if not kinds or kinds[0] == "mapping":
            return self._walk_mapping(dest, src, path)
        # Lists and scalars: the later value wins.
        return src if src is not None else dest

    def _directive(self, patch: Node | None, *, strict: bool) -> Directive:
        if not isinstance(patch, MappingNode):
            return "merge"
        for index, (key, value) in enumerate(patch.value):
            if _key_text(key) != _PATCH_KEY:
                continue
            directive = value.value if isinstance(value, ScalarNode) else ""
            if directive in ("merge", "replace", "delete"):
                del patch.value[index]
                return directive
            if strict:
                raise TerminalStepError(
                    f"cannot merge {self.shown!r}: unknown patch strategy {directive!r}"
                )
            return "merge"
        return "merge"

    def _walk_mapping(
        self, dest: Node | None, src: Node | None, path: tuple[str, ...]
    ) -> Node | None:
        if _is_null(dest):
            # The earlier files have nothing (or null) here.
            if self._directive(src, strict=False) == "delete":
                return None
            if src is None and isinstance(dest, ScalarNode) and dest.value:
                # An explicit null the later file does not mention stays.
                self.kept_nulls.add(id(dest))
                return dest
            result = src
        elif _is_null(src) and src is not None:
            return None
        else:
            directive = self._directive(src, strict=True)
            if directive == "delete":
                return None
            result = src if directive == "replace" else dest
            if (
                isinstance(dest, MappingNode)
                and isinstance(src, MappingNode)
                and not dest.value
                and result is dest
            ):
                # An empty mapping takes the later file's layout rather than staying "{}".
                dest.flow_style = src.flow_style
        if not isinstance(result, MappingNode):
            return result
        for name in _names(result, src):
            value = self.walk(_field(result, name), _field(src, name), (*path, name))
            self._set_field(result, name, value, _field_key(src, name))
        return result

    def _set_field(
        self, mapping: MappingNode, name: str, value: Node | None, src_key: Node | None
    ) -> None:
        if (
            isinstance(value, ScalarNode)
            and value.tag == _STR
            and not value.style
            and value.value in _YAML11_BOOLS
        ):
            value.style = '"'
        position = next(
            (i for i, (key, _v) in enumerate(mapping.value) if _key_text(key) == name), None
        )
        if value is None or (_is_null(value) and id(value) not in self.kept_nulls):
            if position is not None:
                self._remove(mapping, position)
            return
        if position is not None:
            key, old = mapping.value[position]
            if old is not value:
                _take_style(old, value)
                _replace_comments(old, value)
                mapping.value[position] = (key, value)
            return
        key = ScalarNode(
            _STR, name, style=src_key.style if isinstance(src_key, ScalarNode) else None
        )
        _strip_following(value)
        self._append(mapping, key, value)

    def _remove(self, mapping: MappingNode, position: int) -> None:
        _key, old = mapping.value[position]
        _eol, following = _split_token(_trailing_holder(old))
        del mapping.value[position]
        # The removed key's head comment goes with it; the next key's stays.
        if position > 0:
            holder = _trailing_holder(mapping.value[position - 1][1])
            eol, _theirs = _split_token(holder)
            _set_trailing(holder, eol, following)
        elif mapping.value:
            _set_head_comment(mapping, following)

    def _append(self, mapping: MappingNode, key: Node, value: Node) -> None:
        if mapping.value:
            # What followed the old last value (a foot comment) now follows the new one.
            holder = _trailing_holder(mapping.value[-1][1])
            eol, following = _split_token(holder)
            _set_trailing(holder, eol, "")
            new_holder = _trailing_holder(value)
            new_eol, _nothing = _split_token(new_holder)
            _set_trailing(new_holder, new_eol, following)
        elif mapping.flow_style is None:
            mapping.flow_style = False
        mapping.value.append((key, value))


def _take_style(old: Node, new: Node) -> None:
    """kyaml keeps the replaced value's style: its quoting, or a collection's flow layout."""
    if isinstance(new, ScalarNode):
        style = old.style if isinstance(old, ScalarNode) else None
        new.style = style or None
        if new.style in _QUOTED_OR_BLOCK and new.tag != _STR:
            # A quoted number or boolean is a string.
            new.tag = _STR
    elif isinstance(new, CollectionNode) and new.value:
        # An empty collection is written "{}" or "[]" whatever its style, and an empty one
        # being replaced takes the layout of what replaces it.
        if isinstance(old, CollectionNode):
            if old.value:
                new.flow_style = bool(old.flow_style)
        else:
            new.flow_style = False


def _unshared(node: Node, seen: set[int]) -> Node:
    """``node`` with every repeated (aliased) node replaced by its own copy."""
    if id(node) in seen:
        node = _copy(node)
    seen.add(id(node))
    if isinstance(node, MappingNode):
        node.value = [(_unshared(k, seen), _unshared(v, seen)) for k, v in node.value]
    elif isinstance(node, SequenceNode):
        node.value = [_unshared(item, seen) for item in node.value]
    return node


def _copy(node: Node) -> Node:
    if isinstance(node, MappingNode):
        copied: Node = MappingNode(
            node.tag, [(_copy(k), _copy(v)) for k, v in node.value], flow_style=node.flow_style
        )
    elif isinstance(node, SequenceNode):
        copied = SequenceNode(node.tag, [_copy(v) for v in node.value], flow_style=node.flow_style)
    else:
        scalar: Any = node
        copied = ScalarNode(scalar.tag, scalar.value, style=scalar.style)
    return copied


def _plain_would_change_type(yaml: YAML, node: ScalarNode) -> bool:
    resolver: Any = yaml.resolver
    return resolver.resolve(ScalarNode, node.value, (True, False)) != _STR


def _prepare_output(yaml: YAML, node: Node, seen: set[int]) -> None:
    """Settle what go-yaml's encoder decides for itself before ruamel writes ``node``."""
    if id(node) in seen:
        return
    seen.add(id(node))
    anchor: Any = node.anchor
    if isinstance(anchor, str):
        # Every anchor of the input is written, under its own name.
        kept: Any = Anchor()
        kept.value = anchor
        kept.always_dump = True
        node.anchor = kept
    if isinstance(node, CollectionNode) and not node.value and not node.flow_style:
        # A block collection the merge emptied is written "{}" or "[]", as go-yaml does;
        # comments that sat between its key and its first item have nowhere to go.
        node.flow_style = True
        node.comment = None
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _prepare_output(yaml, key, seen)
            _prepare_output(yaml, value, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _prepare_output(yaml, item, seen)
    elif (
        isinstance(node, ScalarNode)
        and node.tag == _STR
        and not node.style
        and _plain_would_change_type(yaml, node)
    ):
        # A string left plain by a style change, but read as another type when plain.
        node.style = '"'


def _documents(yaml: YAML, sources: Sequence[MergeInput]) -> Iterator[tuple[str, Node]]:
    for source in sources:
        document = _first_document(yaml, source)
        if document is not None:
            yield source.shown, document


def merge_documents(sources: Sequence[MergeInput]) -> str:
    """Merge the first document of each source over the ones before it; the merged text.

    Returns:
        The merged YAML, or an empty string when no source holds a document.

    Raises:
        TerminalStepError: A source is not YAML, two sources disagree on whether a key holds
            a mapping, or a ``$patch`` directive is unknown. The message names the file.
    """
    yaml = _yaml()
    documents = list(_documents(yaml, sources))
    if len(documents) > 1:
        # Merging changes nodes in place: an alias must not change what it refers to.
        documents = [(shown, _unshared(document, set())) for shown, document in documents]
    target: Node | None = None
    for shown, document in documents:
        if target is None:
            target = document
            continue
        # A document that merges to nothing (null, "$patch: delete") starts the merge over
        # with the next one.
        target = _Merge(shown).walk(target, document, ())
    if target is None:
        return ""
    _prepare_output(yaml, target, set())
    text = _serialize(target)
    # ruamel misplaces a comment now and then (after a block list item that is a flow
    # collection, say), which can swallow a line break. Comments are worth keeping, but not
    # at the price of the data: when the text does not read back as the same values, it is
    # written again without them.
    _strip_comments(target, set())
    plain = _serialize(target)
    if text != plain and not _same_data(text, plain):
        return plain
    return text


def _serialize(node: Node) -> str:
    out = io.StringIO()
    # A YAML instance serializes once; make one per text.
    _yaml().serialize(node, out)
    return out.getvalue()


def _strip_comments(node: Node, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    node.comment = None
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _strip_comments(key, seen)
            _strip_comments(value, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _strip_comments(item, seen)


def _same_data(text: str, plain: str) -> bool:
    reader = _yaml()
    try:
        return _shape(reader.compose(text)) == _shape(reader.compose(plain))
    except (YAMLError, RecursionError):
        return False


def _shape(node: Node | None) -> object:
    """What ``node`` says, without styles or comments (custom tags need no constructor)."""
    if isinstance(node, MappingNode):
        return ("map", tuple((_shape(k), _shape(v)) for k, v in node.value))
    if isinstance(node, SequenceNode):
        return ("seq", tuple(_shape(item) for item in node.value))
    if isinstance(node, ScalarNode):
        return (node.tag, node.value)
    return None
