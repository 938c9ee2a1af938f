from fission.core.jobs import PythonJob


class SumJob(PythonJob):
    """Adds its inputs and marks big sums with user bit 7 of the head (value 0x01)."""

    HEAD = True

    def run(self, a, b):
        total = a + b
        if total >= 10:
            self.head[7] = 1  # every output gets self.head unless out_heads says otherwise
        return total


class CheckJob(PythonJob):
    """Reads the bit: a head without bits set is falsy, so this test works as written."""

    HEAD = True

    def run(self, total):
        big = bool(self.head & 0x01)
        print(f"{total} is {'big' if big else 'small'} (head {self.head!r})")
        return (total, "big" if big else "small", int(self.head))
