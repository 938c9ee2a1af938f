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
    set by :class:`OptionalMixIn`: the pipe is not aligned by sequence number; the consumer's
    ``run`` gets the latest value or the pipe's default (see the mixin).
``GAP_POLICY``
    what the consumer gets for a block that was lost (a gap): ``"dummy"`` (a stand-in block,
    ``get_dummy()`` or zeros, flagged *corrupted*), ``"previous"`` (the last value again,
    flagged) or ``"skip"`` (nothing: ``None``, or the round is skipped). Defaults: BytesPipe
    ``"dummy"`` (zeros, as the original), PicklePipe and JSONPipe ``"previous"``.
``SOURCE_JOBS`` / ``DESTINATION_JOBS``
    job classes allowed at the producing / consuming end (exact type), checked at load.

Custom pipes override ``pack``/``unpack`` (value <-> bytes). The original's stream hooks work
too: ``write(file, data)`` and ``read(file)`` run against the block's bytes in memory, and
``read_wrapper(file)`` / ``write_wrapper(file, payload)`` cut and write blocks of the pipe's
stream format for executables. Whatever they do, each block travels in its own frame, so a
custom pipe cannot desynchronise the stream: a ``read`` that leaves bytes unread or runs past
the block fails the job with a clear message.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
from collections.abc import Callable
from typing import IO, Any, ClassVar

from fission.core.declaration import Location, caller_location, current_scope
from fission.core.errors import PipeError

__all__ = [
    "GAP_POLICIES",
    "BasePipe",
    "BytesPipe",
    "JSONPipe",
    "OptionalBytesPipe",
    "OptionalJSONPipe",
    "OptionalMixIn",
    "OptionalPicklePipe",
    "PicklePipe",
]

#: The values ``GAP_POLICY`` may take.
GAP_POLICIES = ("dummy", "previous", "skip")


def _overridden(pipe: object, name: str) -> bool:
    """Whether ``name`` comes from a user's class rather than from this module."""
    return getattr(getattr(type(pipe), name), "__module__", __name__) != __name__


class BasePipe:
    """A numbered connection; subclasses define the codec."""

    BLOCK_COUNT: ClassVar[int] = 1
    BLOCK_SIZE: ClassVar[int | str | None] = None
    ASYNC: ClassVar[bool] = False
    GAP_POLICY: ClassVar[str] = "skip"
    SOURCE_JOBS: ClassVar[Any] = None
    DESTINATION_JOBS: ClassVar[Any] = None

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

    @property
    def block_size(self) -> int | None:
        """Exact bytes per block, or None for self-delimiting formats (pickle, JSON)."""
        size = self.BLOCK_SIZE
        return size if isinstance(size, int) and not isinstance(size, bool) else None

    # -- the original's stream hooks ----------------------------------------------------------
    def write(self, file: IO[bytes], data: bytes) -> None:
        """Write one packed block to ``file`` (override to change the bytes of a block)."""
        file.write(data)

    def read(self, file: IO[bytes]) -> Any:
        """Read one block from ``file``; its result goes through ``unpack`` if it is bytes."""
        size = self.block_size
        return file.read(size) if size is not None else file.read()

    def read_wrapper(self, file: IO[bytes]) -> bytes | None:
        """Cut exactly one block's bytes out of an executable's output; None at end of file.

        Default: ``BLOCK_SIZE`` bytes, or ``read(file)`` when a subclass overrides ``read``.
        Never decodes user data (it runs in FISSION's bridge, not in the job).
        """
        if _overridden(self, "read"):
            data = self.read(file)
            if data is None or data == b"":
                return None
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise PipeError(f"{self!r}.read() must return bytes in read_wrapper")
            return bytes(data)
        size = self.block_size
        if size is None:
            raise PipeError(f"{self!r} has no BLOCK_SIZE; define read_wrapper(file)")
        return _read_exactly(file, size, self)

    def write_wrapper(self, file: IO[bytes], payload: bytes) -> None:
        """Write one block's bytes to an executable's input, in the pipe's stream format."""
        file.write(payload)

    def get_dummy(self) -> bytes | None:
        """Bytes standing in for a lost block under ``GAP_POLICY = "dummy"`` (None: zeros)."""
        return None

    def dummy_payload(self) -> bytes | None:
        """The stand-in block for a gap: ``get_dummy()``, else zeros of the block size."""
        dummy = self.get_dummy()
        if dummy is not None:
            dummy = bytes(dummy)
            if self.block_size is None or len(dummy) == self.block_size:
                return dummy
        size = self.block_size
        return bytes(size) if size is not None else None

    # -- what the job host calls --------------------------------------------------------------
    def encoder(self) -> Callable[[Any], bytes]:
        """The function the job host calls per block to encode (``pack`` unless faster)."""
        encode = self._stream_encoder() if _overridden(self, "write") else self.pack
        return self._size_checked(encode)

    def decoder(self) -> Callable[[bytes], Any]:
        """The function the job host calls per block to decode (``unpack`` unless faster)."""
        if _overridden(self, "read"):
            return self._stream_decoder()
        return self.unpack

    def _stream_encoder(self) -> Callable[[Any], bytes]:
        pack = self.pack
        write = self.write

        def encode(value: Any) -> bytes:
            buffer = io.BytesIO()
            write(buffer, pack(value))
            return buffer.getvalue()

        return encode

    def _stream_decoder(self) -> Callable[[bytes], Any]:
        read = self.read
        unpack = self.unpack
        name = repr(self)

        def decode(payload: bytes) -> Any:
            buffer = io.BytesIO(payload)
            value = read(buffer)
            left = len(payload) - buffer.tell()
            if left:
                raise ValueError(
                    f"{name}.read() left {left} of the block's {len(payload)} bytes unread; "
                    f"read must consume exactly the bytes write produced"
                )
            if isinstance(value, (bytes, bytearray, memoryview)):
                return unpack(bytes(value))
            return value

        return decode

    def _size_checked(self, encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        # Executables and other languages read exactly BLOCK_SIZE bytes: check every block,
        # whether the default pack() or a custom one made it.
        size = self.block_size
        if size is None:
            return encode
        name = repr(self)

        def checked(data: Any) -> bytes:
            block = bytes(encode(data))
            if len(block) != size:
                raise ValueError(f"{name} carries blocks of {size} bytes, got {len(block)}")
            return block

        return checked

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id})"


def _read_exactly(file: IO[bytes], size: int, pipe: BasePipe) -> bytes | None:
    first = file.read(size)
    if not first:
        return None
    if len(first) == size:
        return first  # the usual case: no joining copy
    chunks: list[bytes] = [first]
    missing = size - len(first)
    while missing:
        chunk = file.read(missing)
        if not chunk:
            raise PipeError(
                f"{pipe!r}: the stream ended inside a block ({size - missing} of {size} bytes)"
            )
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class _Recorder:
    """A read-only file that remembers the bytes read through it (for pickle framing)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.seen = bytearray()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.seen += data
        return data

    def readline(self) -> bytes:
        data = self.file.readline()
        self.seen += data
        return data


class PicklePipe(BasePipe):
    """Carries any picklable Python object."""

    BLOCK_SIZE = "PKL"

    def pack(self, data: Any) -> bytes:
        return pickle.dumps(data)

    def unpack(self, data: bytes) -> Any:
        return pickle.loads(data)

    GAP_POLICY = "previous"

    def encoder(self) -> Callable[[Any], bytes]:
        # Unless a subclass changed pack(), call pickle directly: one Python call less per block.
        if type(self).pack is PicklePipe.pack and not _overridden(self, "write"):
            return pickle.dumps
        return super().encoder()

    def decoder(self) -> Callable[[bytes], Any]:
        if type(self).unpack is PicklePipe.unpack and not _overridden(self, "read"):
            return pickle.loads
        return super().decoder()

    def read_wrapper(self, file: IO[bytes]) -> bytes | None:
        """One pickle, found by walking its opcodes up to STOP (nothing is unpickled)."""
        if _overridden(self, "read"):
            return super().read_wrapper(file)
        recorder = _Recorder(file)
        try:
            for _ in pickletools.genops(recorder):  # reads exactly up to and including STOP
                pass
        except ValueError as exc:
            if not recorder.seen:
                return None  # end of file before a block
            raise PipeError(f"{self!r}: not a pickle stream: {exc}") from None
        return bytes(recorder.seen)


class JSONPipe(BasePipe):
    """Carries JSON-serialisable values; readable from any language."""

    BLOCK_SIZE = "JSON"
    GAP_POLICY = "previous"

    def pack(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode()

    def unpack(self, data: bytes) -> Any:
        return json.loads(data)

    def read_wrapper(self, file: IO[bytes]) -> bytes | None:
        """One JSON document per line (empty lines are skipped)."""
        if _overridden(self, "read"):
            return super().read_wrapper(file)
        while True:
            line = file.readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            if line.strip():
                return line

    def write_wrapper(self, file: IO[bytes], payload: bytes) -> None:
        file.write(payload + b"\n")


class BytesPipe(BasePipe):
    """Carries raw blocks of exactly ``block_size`` bytes.

    ``BytesPipe(id, block_size, block_count=1)``; a subclass may instead set ``BLOCK_SIZE`` and
    ``BLOCK_COUNT`` as class attributes and override ``pack``/``unpack`` (e.g. with ``struct``).
    """

    BLOCK_SIZE: ClassVar[int | str | None] = None
    GAP_POLICY = "dummy"

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id}, {self._size}, {self._count})"


class OptionalMixIn:
    """Makes a pipe optional (ASYNC): its consumer is never kept waiting for it.

    Put it first: ``class OperatorPipe(OptionalMixIn, PicklePipe)``. Blocks are not aligned by
    sequence number; each round, the consumer's ``run`` takes the oldest value still queued, or,
    when none is, the last value taken (``OPTIONAL_STORE``) or ``OPTIONAL_DEFAULT``.

    ``OPTIONAL_DEFAULT``
        what ``run`` gets before any value arrived (a Python value, not bytes); default None.
    ``OPTIONAL_STORE``
        keep giving the last value taken when nothing new arrived (default True); False gives
        ``OPTIONAL_DEFAULT`` again in every round without a new value.
    ``OPTIONAL_BUFFER_SIZE``
        values queued at most (default 0: up to the pipe's credit window). ``1`` means "always
        the latest value".
    ``OPTIONAL_DELETE_MODE``
        which value to drop when the buffer is full: ``"oldest"`` (default) or ``"newest"``
        (the value just arrived is discarded).

    A job whose inputs are all optional is called again and again like a function source.
    """

    ASYNC: ClassVar[bool] = True
    OPTIONAL_DEFAULT: ClassVar[Any] = None
    OPTIONAL_STORE: ClassVar[bool] = True
    OPTIONAL_BUFFER_SIZE: ClassVar[int] = 0
    OPTIONAL_DELETE_MODE: ClassVar[str] = "oldest"


class OptionalPicklePipe(OptionalMixIn, PicklePipe):
    """An optional :class:`PicklePipe`."""


class OptionalJSONPipe(OptionalMixIn, JSONPipe):
    """An optional :class:`JSONPipe`."""


class OptionalBytesPipe(OptionalMixIn, BytesPipe):
    """An optional :class:`BytesPipe` (``OptionalBytesPipe(id, block_size)``)."""
