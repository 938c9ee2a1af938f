"""Pipes: the typed, numbered connections between jobs (import path kept from the original).

A pipe is a one-way stream from exactly one producing job to exactly one consuming job. Its id
(a positive integer) is what connects the two ends in config.py: inside one config load,
``PicklePipe(101)`` written twice is the same object. A pipe class is a *codec*: ``pack`` turns
a Python value into bytes on the producer, ``unpack`` turns bytes back into a value on the
consumer. Framing, sequence numbers and flags are FISSION's business and never pass through
``pack``/``unpack``, so a custom codec cannot corrupt the stream.

Class attributes a subclass may override:

``BLOCK_COUNT``
    blocks per round on the consuming side (default 1). With ``n > 1`` the consumer's ``run``
    receives a list of ``n`` values.
``BLOCK_SIZE``
    for :class:`BytesPipe`, the exact size of one block in bytes.
``ASYNC``
    reserved for optional pipes (not aligned by sequence number).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

from fission.core.declaration import Location, caller_location, current_scope
from fission.core.errors import PipeError

__all__ = ["BasePipe", "BytesPipe", "JSONPipe", "PicklePipe"]


class BasePipe:
    """A numbered connection; subclasses define the codec."""

    BLOCK_COUNT: ClassVar[int] = 1
    BLOCK_SIZE: ClassVar[int | str | None] = None
    ASYNC: ClassVar[bool] = False

    id: int
    declarations: list[Location]

    def __new__(cls, id: int, *args: Any, **kwargs: Any) -> BasePipe:
        where = caller_location()
        if isinstance(id, bool) or not isinstance(id, int) or id <= 0:
            raise PipeError(
                f"{where}: {cls.__name__}({id!r}): a pipe id must be a positive integer"
            )
        if id > 0xFFFFFFFF:
            raise PipeError(f"{where}: {cls.__name__}({id}): pipe ids must be below 2**32")
        scope = current_scope()
        if scope is not None and id in scope.pipes:
            existing = scope.pipes[id]
            if type(existing) is not cls:
                raise PipeError(
                    f"{where}: pipe {id} is declared as {cls.__name__} here but as "
                    f"{type(existing).__name__} at {existing.declarations[0]}; one id is one "
                    f"pipe, so use the same pipe class at both ends or pick another id"
                )
            existing.declarations.append(where)
            return existing
        pipe = super().__new__(cls)
        pipe.id = id
        pipe.declarations = [where]
        if scope is not None:
            scope.pipes[id] = pipe
        return pipe

    def __init__(self, id: int) -> None:
        # __new__ already set the id; __init__ runs again for every reference to the same id.
        pass

    def __getnewargs__(self) -> tuple[int]:
        return (self.id,)

    @property
    def declared_at(self) -> Location:
        return self.declarations[0]

    @property
    def block_count(self) -> int:
        return int(self.BLOCK_COUNT)

    def pack(self, data: Any) -> bytes:
        """Encode one value for the wire (runs in the producing job)."""
        raise NotImplementedError

    def unpack(self, data: bytes) -> Any:
        """Decode one block's bytes back into a value (runs in the consuming job)."""
        raise NotImplementedError

    def encoder(self) -> Callable[[Any], bytes]:
        """The function the job host calls per block to encode (``pack`` unless faster)."""
        return self.pack

    def decoder(self) -> Callable[[bytes], Any]:
        """The function the job host calls per block to decode (``unpack`` unless faster)."""
        return self.unpack

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id})"


class PicklePipe(BasePipe):
    """Carries any picklable Python object."""

    BLOCK_SIZE = "PKL"

    def pack(self, data: Any) -> bytes:
        return pickle.dumps(data)

    def unpack(self, data: bytes) -> Any:
        return pickle.loads(data)

    def encoder(self) -> Callable[[Any], bytes]:
        # Unless a subclass changed pack(), call pickle directly: one Python call less per block.
        return pickle.dumps if type(self).pack is PicklePipe.pack else self.pack

    def decoder(self) -> Callable[[bytes], Any]:
        return pickle.loads if type(self).unpack is PicklePipe.unpack else self.unpack


class JSONPipe(BasePipe):
    """Carries JSON-serialisable values; readable from any language."""

    BLOCK_SIZE = "JSON"

    def pack(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode()

    def unpack(self, data: bytes) -> Any:
        return json.loads(data)


class BytesPipe(BasePipe):
    """Carries raw blocks of exactly ``block_size`` bytes.

    ``BytesPipe(id, block_size, block_count=1)``; a subclass may instead set ``BLOCK_SIZE`` and
    ``BLOCK_COUNT`` as class attributes and override ``pack``/``unpack`` (e.g. with ``struct``).
    """

    BLOCK_SIZE: ClassVar[int | str | None] = None

    def __init__(
        self,
        id: int,
        block_size: int | None = None,
        block_count: int | None = None,
    ) -> None:
        size = block_size if block_size is not None else self.BLOCK_SIZE
        count = block_count if block_count is not None else type(self).BLOCK_COUNT
        where = self.declarations[-1]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise PipeError(
                f"{where}: {type(self).__name__}({id}) needs a block size in bytes (an integer "
                f">= 1), got {size!r}; write {type(self).__name__}({id}, <size>)"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise PipeError(
                f"{where}: {type(self).__name__}({id}): block count must be an integer >= 1, "
                f"got {count!r}"
            )
        previous = getattr(self, "_size", None)
        if previous is not None and (previous, self._count) != (size, count):
            raise PipeError(
                f"{where}: pipe {id} is declared with block size {size} and count {count} here "
                f"but with {previous} and {self._count} at {self.declarations[0]}; both ends "
                f"must agree"
            )
        self._size = size
        self._count = count

    @property
    def block_size(self) -> int:
        return self._size

    @property
    def block_count(self) -> int:
        return self._count

    def pack(self, data: Any) -> bytes:
        return bytes(data)

    def unpack(self, data: bytes) -> Any:
        return data

    def encoder(self) -> Callable[[Any], bytes]:
        # Executables and other languages read exactly BLOCK_SIZE bytes: check every block,
        # whether the default pack() or a custom one made it.
        pack = self.pack
        size = self._size
        name = repr(self)

        def checked(data: Any) -> bytes:
            block = bytes(pack(data))
            if len(block) != size:
                raise ValueError(f"{name} carries blocks of {size} bytes, got {len(block)}")
            return block

        return checked

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id}, {self._size}, {self._count})"
