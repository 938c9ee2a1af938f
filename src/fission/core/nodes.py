"""Nodes: the servers a network may run on (import path kept from the original).

``BaseNode("192.168.4.2")`` declares one server by address. Subclasses set ``GROUPS`` to say
which jobs may run there (a job runs only on nodes sharing one of its groups). ``slots`` is how
many jobs the server takes at once. ``simulate`` ignores nodes: every job runs on this machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, ClassVar

from fission.core.declaration import Location, caller_location
from fission.core.errors import ConfigError

__all__ = ["BaseNode", "LocalNode"]


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

    @property
    def ip(self) -> str:
        """The node's address (name kept from the original)."""
        return self.host

    @property
    def groups(self) -> list[str]:
        groups = self.GROUPS
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
