from fission.core.jobs import PythonJob


class ShowSum(PythonJob):
    """Prints each sum with the head the program wrote for it."""

    HEAD = True

    def run(self, total):
        print(f"{total} {'big' if self.head[7] else 'small'} (head {self.head!r})")
