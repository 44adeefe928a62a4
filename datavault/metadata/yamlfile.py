"""YAML reading that keeps line and column of every key and value and rejects duplicate keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from datavault.diagnostics import Problems


class Located:
    """Mixin: where a mapping or list starts, and where each of its keys and items are."""

    line: int = 1
    col: int = 1


class LMap(dict, Located):
    """A YAML mapping with the location of each key (``key_at``) and value (``value_at``)."""

    def __init__(self) -> None:
        super().__init__()
        self.key_locs: dict[Any, tuple[int, int]] = {}
        self.value_locs: dict[Any, tuple[int, int]] = {}

    def key_at(self, key: Any) -> tuple[int, int]:
        return self.key_locs.get(key, (self.line, self.col))

    def value_at(self, key: Any) -> tuple[int, int]:
        return self.value_locs.get(key, self.key_at(key))


class LList(list, Located):
    """A YAML sequence with the location of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.item_locs: list[tuple[int, int]] = []

    def item_at(self, index: int) -> tuple[int, int]:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return (self.line, self.col)


def _loc(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _make_loader(path: str, problems: Problems) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LMap:
        result = LMap()
        result.line, result.col = _loc(node)
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                line, col = _loc(key_node)
                problems.add(path, line, col, "a mapping key must be a plain word")
                continue
            if isinstance(key, bool) or key is None or isinstance(key, (int, float)):
                key = key_node.value  # keep `on:`, `yes:`, `1:` as written
            if key in result:
                line, col = _loc(key_node)
                first = result.key_at(key)[0]
                problems.add(
                    path, line, col, f"duplicate key {key!r} (first given on line {first})",
                    "remove one of them",
                )
                continue
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_locs[key] = _loc(key_node)
            result.value_locs[key] = _loc(value_node)
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LList:
        result = LList()
        result.line, result.col = _loc(node)
        for child in node.value:
            result.append(loader.construct_object(child, deep=True))
            result.item_locs.append(_loc(child))
        return result

    def construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        # A date-shaped text that is no date (2026-02-30) stays text, for the check that
        # reads it to report with its place, instead of failing the whole file.
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def read_yaml(file: Path, shown_path: str, problems: Problems) -> Any:
    """Read one YAML file; syntax errors and duplicate keys become problems (result None)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(shown_path, 1, 1, f"cannot read file: {exc}")
        return None
    try:
        return yaml.load(text, Loader=_make_loader(shown_path, problems))  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or str(exc)
        if problem.startswith("but ") and exc.context:
            problem = f"{exc.context}, {problem}"  # "expected a single document ..., but found"
        hint = ("indent with spaces, not tabs" if "'\\t'" in problem
                else "check indentation and quoting")
        problems.add(shown_path, line, col, f"invalid YAML: {problem}", hint)
        return None
    except yaml.YAMLError as exc:
        problems.add(shown_path, 1, 1, f"invalid YAML: {exc}")
        return None
