"""YAML reading that keeps line numbers: plain data plus ``{dotted path: line}``.

PyYAML composes the node tree (with libyaml when available); this module turns
nodes into plain Python data, records the 1-based line of every mapping key
and sequence item under its dotted path (``networks.front.subnet``,
``containers.web.ports[0]``), and reports duplicate mapping keys, which plain
``yaml.safe_load`` silently drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["DuplicateKey", "YamlDocument", "YamlSyntaxError", "read_yaml"]

try:  # libyaml is much faster; the pure-Python loader gives the same nodes
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str
    key: str
    line: int
    first_line: int


@dataclass(slots=True)
class YamlDocument:
    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    duplicates: list[DuplicateKey] = field(default_factory=list)


def join(path: str, key: str) -> str:
    """Dotted path of ``key`` under ``path``."""
    return f"{path}.{key}" if path else key


#: more nodes than this (after alias expansion) is refused ("billion laughs")
MAX_NODES = 2_000_000


class _Builder:
    def __init__(self) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.doc = YamlDocument(None)
        self.visited = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: str) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise YamlSyntaxError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                                  node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise YamlSyntaxError(f"recursive alias at {path or 'top level'}", node.start_mark.line + 1)
        self.active.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self.active.discard(id(node))

    def _collection(self, node: yaml.Node, path: str) -> Any:
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise YamlSyntaxError(f"unsupported tag {node.tag!r} at {path or 'top level'}",
                                  node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                item_path = f"{path}[{index}]"
                self.doc.lines[item_path] = item.start_mark.line + 1
                items.append(self.build(item, item_path))
            return items
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_lines: dict[Any, int] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError(f"a mapping key under {path or 'top level'} is not a plain value",
                                      key_node.start_mark.line + 1)
            key = self._scalar(key_node)
            key_text = str(key)
            key_path = join(path, key_text)
            line = key_node.start_mark.line + 1
            if key in first_lines:
                self.doc.duplicates.append(DuplicateKey(key_path, key_text, line, first_lines[key]))
                continue
            first_lines[key] = line
            self.doc.lines[key_path] = line
            result[key] = self.build(value_node, key_path)
        for source in merged:  # YAML merge keys ("<<: *defaults"): explicit keys win
            if not isinstance(source, yaml.MappingNode):
                raise YamlSyntaxError("'<<' must merge a mapping", source.start_mark.line + 1)
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in node.value:
            # YAML 1.1 base-60 numbers ("8080:22"): always meant as text here
            return node.value
        return self.constructor.construct_object(node, deep=True)


def read_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; raise :class:`YamlSyntaxError` if it is not YAML."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(f"{exc.problem or exc.context or 'invalid YAML'}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc).splitlines()[0] if str(exc) else "invalid YAML", None) from None
    builder = _Builder()
    if node is None:
        return builder.doc
    try:
        builder.doc.data = builder.build(node, "")
    except yaml.YAMLError as exc:  # e.g. an unknown !tag
        mark = getattr(exc, "problem_mark", None)
        raise YamlSyntaxError(str(getattr(exc, "problem", None) or exc), mark.line + 1 if mark else None) \
            from None
    return builder.doc
