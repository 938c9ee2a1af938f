"""The one-byte head every block carries, and :class:`Head`, what HEAD jobs see of it.

The head is the frame's flags byte (see ``fission.runtime.framing``). Bits are numbered from the
most significant one, as in the original MARVELO head::

    index   0          1        2          3  4  5  6  7
    value   0x80       0x40     0x20       0x10 ... 0x01
    meaning corrupted  reset    finished   user bits (USER_MASK = 0x1F)

* *corrupted*: the block is a stand-in for lost data (a gap filled by the pipe's policy), or was
  computed from such a block: the bit is carried on through every later job.
* *reset*: kept for compatibility; FISSION never restarts numbering, so it is never set, and a
  job may not set it.
* *finished*: the last block of a stream (``finish()`` or a source that ended).
* user bits: free for the network's own signalling between ``HEAD`` jobs. Jobs without ``HEAD``
  pass the OR of their inputs' user bits on unchanged.

Executables with ``HEAD = True`` read this byte before every input block and write one before
every output block; :func:`outgoing_flags` turns what a job (or an executable) wrote into the
byte that goes on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

__all__ = [
    "CORRUPTED",
    "FINISHED",
    "RESET",
    "USER_MASK",
    "Head",
    "outgoing_flags",
    "reduce_or",
]

CORRUPTED = 0x80
RESET = 0x40
FINISHED = 0x20
USER_MASK = 0x1F
#: Bits of a job's own head that may reach the wire (reset and finished are FISSION's).
_WRITABLE = CORRUPTED | USER_MASK
_BITS = 8


class Head:
    """A head byte with bit operations; a head with no bit set is falsy.

    Operators (``&``, ``|``, ``^``, ``<<``, ``>>``, ``~``) return new heads and accept heads or
    ints; results are cut to 8 bits. ``head[i]`` is bit ``i`` counted from the most significant
    (``head[0]`` is *corrupted*), ``head[3:]`` the list of bits 3..7, ``head[i] = 1`` sets a
    bit. Setting the reset bit raises ``ValueError``: only FISSION's numbering could use it.
    """

    __slots__ = ("value",)

    def __init__(self, value: int | Head = 0) -> None:
        number = int(value)
        if not 0 <= number <= 0xFF:
            raise ValueError(f"a head is one byte (0..255), got {number}")
        self.value = number

    # -- conversions ----------------------------------------------------------------------------
    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __bool__(self) -> bool:
        return self.value != 0

    def __len__(self) -> int:
        return _BITS

    def to_bytes(self) -> bytes:
        return bytes((self.value,))

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        if len(data) != 1:
            raise ValueError(f"a head is one byte, got {len(data)}")
        return cls(data[0])

    # -- named bits -----------------------------------------------------------------------------
    @property
    def corrupted(self) -> bool:
        return bool(self.value & CORRUPTED)

    @property
    def reset(self) -> bool:
        return bool(self.value & RESET)

    @property
    def finished(self) -> bool:
        return bool(self.value & FINISHED)

    @property
    def user(self) -> int:
        """The five user bits as a number (0..31)."""
        return self.value & USER_MASK

    # -- operators ------------------------------------------------------------------------------
    def __and__(self, other: int | Head) -> Head:
        return Head(self.value & int(other) & 0xFF)

    def __or__(self, other: int | Head) -> Head:
        return Head((self.value | int(other)) & 0xFF)

    def __xor__(self, other: int | Head) -> Head:
        return Head((self.value ^ int(other)) & 0xFF)

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    def __lshift__(self, count: int) -> Head:
        return Head((self.value << count) & 0xFF)

    def __rshift__(self, count: int) -> Head:
        return Head(self.value >> count)

    def __invert__(self) -> Head:
        return Head(~self.value & 0xFF)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Head):
            return self.value == other.value
        if isinstance(other, int):
            return self.value == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable (bits can be set)

    # -- bits -----------------------------------------------------------------------------------
    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            return [self._bit(i) for i in range(*index.indices(_BITS))]
        return self._bit(self._position(index))

    def __setitem__(self, index: SupportsIndex, bit: int | bool) -> None:
        position = self._position(index)
        mask = 0x80 >> position
        if bit and mask == RESET:
            raise ValueError("the reset bit (index 1) is FISSION's; jobs cannot set it")
        self.value = (self.value | mask) if bit else (self.value & ~mask)

    def _bit(self, position: int) -> int:
        return (self.value >> (_BITS - 1 - position)) & 1

    @staticmethod
    def _position(index: SupportsIndex) -> int:
        position = int(index)
        if position < 0:
            position += _BITS
        if not 0 <= position < _BITS:
            raise IndexError(f"a head has bits 0..7, not {int(index)}")
        return position

    def __repr__(self) -> str:
        return f"Head(0b{self.value:08b})"


def reduce_or(heads: Iterable[Head | list[Head]]) -> Head:
    """The default ``head_reduce``: the bitwise OR of every input head (lists flattened)."""
    value = 0
    for head in heads:
        if isinstance(head, list):
            for item in head:
                value |= int(item)
        else:
            value |= int(head)
    return Head(value)


def outgoing_flags(written: int | Head | None, round_flags: int, finishing: bool) -> int:
    """The flags byte of an output block, from the head a job wrote and its round's inputs.

    ``written`` is what the job (``self.out_heads[i]``, else ``self.head``) or an executable
    wrote; None means nothing, and the inputs' bits are passed on. The reset bit is always
    cleared, *finished* is set exactly on the last block, and *corrupted* stays set when any
    input of the round was corrupted (a job cannot launder a stand-in value).
    """
    base = (round_flags & _WRITABLE) if written is None else (int(written) & _WRITABLE)
    base |= round_flags & CORRUPTED
    return base | FINISHED if finishing else base
