"""Nodes: the servers a network may run on (import path kept from the original).

``BaseNode("192.168.4.2")`` declares one server by address. Subclasses set ``GROUPS`` to say
which jobs may run there (a job runs only on nodes sharing one of its groups); ``groups=`` sets
them for one node. ``slots`` is how many jobs the server takes at once. ``MultiNode`` stands for
every joining server whose name matches a pattern, and a CSV inventory file named in ``NODES``
lists servers one per row (:func:`read_inventory`). ``simulate`` ignores nodes: every job runs
on this machine.
"""

from __future__ import annotations

import copy
import csv
import ipaddress
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from fission.core.declaration import Location, caller_location
from fission.core.errors import ConfigError

__all__ = [
    "INVENTORY_COLUMNS",
    "BaseNode",
    "LocalNode",
    "MultiNode",
    "example_servers",
    "expand_nodes",
    "read_inventory",
]

#: Columns of a CSV inventory file (only ``host`` is required).
INVENTORY_COLUMNS = ("host", "name", "groups", "slots")


class BaseNode:
    """One server, by address (IP or host name)."""

    GROUPS: ClassVar[str | Sequence[str]] = "ALL"
    #: Jobs the server runs at once unless ``slots=`` says otherwise.
    DEFAULT_SLOTS: ClassVar[int] = 4

    def __init__(
        self,
        host: str,
        port: int | None = None,
        cpus: int = 0,
        depends: Sequence[Any] = (),
        setup_args: Sequence[Any] = (),
        name: str = "",
        slots: int | None = None,
        groups: str | Sequence[str] | None = None,
    ) -> None:
        self.declared_at: Location = caller_location()
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(
                f"{self.declared_at}: {type(self).__name__}({host!r}): a node needs its address "
                f'as a string, e.g. BaseNode("192.168.4.2")'
            )
        self.host = host.strip()
        self.port = port
        self.name = name or self.host
        if slots is None:
            slots = cpus if cpus else self.DEFAULT_SLOTS
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
            raise ConfigError(
                f"{self.declared_at}: {type(self).__name__}({host!r}): slots must be an integer "
                f">= 0, got {slots!r}"
            )
        self.slots = slots
        if groups is not None and not (
            isinstance(groups, str)
            or (isinstance(groups, (list, tuple)) and all(isinstance(g, str) for g in groups))
        ):
            raise ConfigError(
                f"{self.declared_at}: {type(self).__name__}({host!r}): groups must be a group "
                f"name or a list of names, got {groups!r}"
            )
        self._groups = groups

    @property
    def ip(self) -> str:
        """The node's address (name kept from the original)."""
        return self.host

    @property
    def groups(self) -> list[str]:
        """This node's groups: ``groups=`` if given, else the class's ``GROUPS``."""
        groups = self._groups if self._groups is not None else self.GROUPS
        return [groups] if isinstance(groups, str) else list(groups)

    def is_ip_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host!r})"


class LocalNode(BaseNode):
    """The client machine itself; local jobs run here."""

    GROUPS = "LOCAL"
    DEFAULT_SLOTS = 1000


class MultiNode(BaseNode):
    """Every server whose name matches a pattern, e.g. ``MultiNode("192.168.4.*", slots=2)``.

    ``*`` matches any run of characters, ``?`` one character, and ``{10..20}`` a number in that
    range (``MultiNode("10.0.0.{2..9}")``). ``run`` does not wait for a MultiNode: the servers
    that match are used as they join (at the start or later), each with this node's slots and
    groups (servers listed by a plain BaseNode keep their own entry).
    """

    def __init__(self, host: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(host, *args, **kwargs)
        self.pattern = _compile_pattern(self.host)

    def matches(self, name: str) -> bool:
        found = self.pattern.fullmatch(name)
        if found is None:
            return False
        for group, (low, high) in zip(found.groups(), self._ranges(), strict=True):
            if not low <= int(group) <= high:
                return False
        return True

    def _ranges(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in _RANGE.findall(self.host)]

    def example_names(
        self, count: int, skip: Callable[[str], bool] = lambda name: False
    ) -> list[str]:
        """Up to ``count`` distinct server names this pattern matches, for servers made up here
        (``emulate``): ``*`` becomes 1, 2, 3, ..., ``?`` a digit (1-9, then 0) and
        ``{a..b}`` a, a+1, ..., b, the last wildcard counting fastest, so ``192.168.4.*``
        gives 192.168.4.1, 192.168.4.2, ... and ``pi-{10..20}`` pi-10, pi-11, ... Names
        ``skip`` rejects are left out; fewer than ``count`` when the pattern has no more."""
        return list(itertools.islice(self._names(skip), max(count, 0)))

    def _names(self, skip: Callable[[str], bool]) -> Iterator[str]:
        # Every candidate is checked with matches(): a pattern such as "*{10..20}" is
        # ambiguous, and a name the run would not match must never be offered.
        pieces = _RANGE.split(self.host)  # text, low, high, text, low, high, ..., text
        choices: list[Sequence[str]] = []
        template: list[str | None] = []  # literal text, or None for the next wildcard
        for index in range(0, len(pieces), 3):
            for char in pieces[index]:
                if char in "*?":
                    choices.append(_STAR if char == "*" else _DIGITS)
                    template.append(None)
                else:
                    template.append(char)
            if index + 2 < len(pieces):
                low, high = int(pieces[index + 1]), int(pieces[index + 2])
                choices.append(_Numbers(low, high + 1))
                template.append(None)
        seen: set[str] = set()  # "**" makes 1+11 and 11+1 alike
        for values in itertools.islice(_combinations(choices), _SCAN_LIMIT):
            filled = iter(values)
            name = "".join(part if part is not None else next(filled) for part in template)
            if name not in seen and self.matches(name) and not skip(name):
                seen.add(name)
                yield name

    def node_for(self, name: str) -> BaseNode:
        """A plain node for one matching server, with this node's slots and groups."""
        node = copy.copy(self)
        node.__class__ = _Matched
        node.host = node.name = name
        if node._groups is None:
            node._groups = self.groups
        return node


class _Matched(BaseNode):
    """A server found through a MultiNode."""


_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
#: Candidate names a MultiNode looks at before giving up on finding more (a pattern whose
#: names are all taken would otherwise be searched forever).
_SCAN_LIMIT = 20_000
_DIGITS = "1234567890"


class _Numbers(Sequence[str]):
    """The numbers ``start .. stop - 1`` as text, without building the list."""

    def __init__(self, start: int, stop: int) -> None:
        self.numbers = range(start, stop)

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return str(self.numbers[index])


_STAR = _Numbers(1, 10**9)


def _combinations(choices: Sequence[Sequence[str]]) -> Iterator[tuple[str, ...]]:
    """Every tuple of one value per choice, the last choice changing fastest (lazily, unlike
    itertools.product, which would build each sequence first)."""
    if not choices:
        yield ()
        return
    for first in choices[0]:
        for rest in _combinations(choices[1:]):
            yield (first, *rest)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for found in _RANGE.finditer(pattern):
        parts.append(_glob(pattern[position : found.start()]))
        parts.append(r"(\d+)")
        position = found.end()
    parts.append(_glob(pattern[position:]))
    return re.compile("".join(parts))


def _glob(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def expand_nodes(nodes: Iterable[BaseNode], joined: Iterable[str]) -> list[BaseNode]:
    """The concrete nodes of a run: plain nodes as they are, MultiNodes as the joined servers
    they match (a server matched by a plain node or an earlier MultiNode is not repeated)."""
    nodes = list(nodes)
    result = [node for node in nodes if not isinstance(node, MultiNode)]
    taken = {node.host for node in result}
    for node in nodes:
        if isinstance(node, MultiNode):
            for name in sorted(joined):
                if name not in taken and node.matches(name):
                    result.append(node.node_for(name))
                    taken.add(name)
    return result


def example_servers(nodes: Iterable[BaseNode], count: int) -> list[str]:
    """Names for ``count`` servers standing in for NODES (``emulate``): the plain nodes'
    addresses in order, then names generated from the MultiNodes' patterns, one for each
    pattern in turn. A generated name is new and matches no earlier pattern, so
    :func:`expand_nodes` gives it to the MultiNode it was made for. Fewer than ``count`` when
    NODES allows no more (no more plain nodes, and every pattern has run out of names)."""
    nodes = list(nodes)
    names: list[str] = []
    for node in nodes:
        if not isinstance(node, MultiNode) and node.host not in names:
            names.append(node.host)
    names = names[: max(count, 0)]
    patterns = [node for node in nodes if isinstance(node, MultiNode)]
    taken = set(names)

    def generator(index: int) -> Iterator[str]:
        earlier = patterns[:index]
        return patterns[index]._names(
            lambda name: name in taken or any(node.matches(name) for node in earlier)
        )

    active = [generator(index) for index in range(len(patterns))]
    while len(names) < count and active:
        for found in list(active):
            if len(names) == count:
                break
            name = next(found, None)
            if name is None:
                active.remove(found)
                continue
            names.append(name)
            taken.add(name)
    return names


def read_inventory(path: Path) -> list[BaseNode]:
    """The nodes listed in a CSV inventory file.

    The first row that is not empty or a ``#`` comment is the header; it names the columns, in
    any order: ``host`` (required: address, name, or a MultiNode pattern with ``*``, ``?`` or
    ``{a..b}``), ``name``, ``groups`` (names separated by spaces or ``;``; default ``ALL``) and
    ``slots`` (default ``BaseNode.DEFAULT_SLOTS``). Raises ConfigError naming file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the node inventory: {exc.strerror}") from None
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(text.splitlines()), start=1)
        if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise ConfigError(
            f"{path}: the node inventory is empty; write a header row: host,groups,slots"
        )
    header_line, header = rows[0]
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in INVENTORY_COLUMNS]
    if "host" not in columns or unknown:
        raise ConfigError(
            f"{path}:{header_line}: the first row must name the columns, from "
            f"{', '.join(INVENTORY_COLUMNS)} (host is required)"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    nodes: list[BaseNode] = []
    for number, row in rows[1:]:
        where = Location(str(path), number)
        if len(row) > len(columns):
            raise ConfigError(f"{where}: {len(row)} cells but {len(columns)} columns in the header")
        cells = dict(zip(columns, (cell.strip() for cell in row), strict=False))
        host = cells.get("host", "")
        groups_text = cells.get("groups", "")
        groups = [g for g in re.split(r"[;\s]+", groups_text) if g] or None
        slots_text = cells.get("slots", "")
        try:
            slots = int(slots_text) if slots_text else None
        except ValueError:
            raise ConfigError(
                f"{where}: slots must be a whole number, got {slots_text!r}"
            ) from None
        kind = MultiNode if any(c in host for c in "*?{") else BaseNode
        try:
            node = kind(host, name=cells.get("name", ""), slots=slots, groups=groups)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {str(exc).split(': ', 1)[-1]}") from None
        node.declared_at = where
        nodes.append(node)
    return nodes
