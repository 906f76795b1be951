"""YAML files whose errors point at a line: contracts and mapping.yaml are edited by people.

``yaml.safe_load`` throws away positions, so we also compose the node tree and keep, for every
key path, the line of its value. A validation error can then say ``mapping.yaml:42: …`` instead of
leaving the user to hunt for ``gl_accounts[3].account``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from paytrace_sl.errors import PaytraceSlError

PathKey = tuple[str | int, ...]


class ConfigFileError(PaytraceSlError, ValueError):
    """A contract or mapping file is invalid; ``str()`` is ``file:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the 1-based line of every key path (``("fields", 3, "name")``)."""

    path: Path
    data: Any
    lines: dict[PathKey, int]

    def line_of(self, key_path: PathKey) -> int | None:
        """Line of ``key_path`` or of its nearest ancestor that has one."""
        probe = tuple(key_path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)

    def error(self, key_path: PathKey, reason: str) -> ConfigFileError:
        return ConfigFileError(self.path, self.line_of(key_path), reason)


def _collect_lines(node: yaml.Node, prefix: PathKey, lines: dict[PathKey, int]) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*prefix, key)
            _collect_lines(value_node, child, lines)
            # a key's own line is more useful than its value's when the value is a block
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*prefix, index), lines)


def load_yaml_document(path: Path | str) -> YamlDocument:
    """Read and parse ``path``; YAML syntax errors become :class:`ConfigFileError` with the line."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(file_path, None, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise ConfigFileError(file_path, line, f"YAML syntax error: {reason}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(file_path, None, f"YAML error: {exc}") from exc
    lines: dict[PathKey, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
    return YamlDocument(path=file_path, data=data, lines=lines)
