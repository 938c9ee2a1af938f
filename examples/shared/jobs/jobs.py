"""Jobs shared by the example networks (import them as shared.jobs.jobs)."""

from fission.core.jobs import PythonJob


class JoinJob(PythonJob):
    """Sums any number of inputs (a variadic run)."""

    def run(self, *values):
        result = sum(values)
        print(f"{' + '.join(map(str, values))} = {result}")
        return result  # not a tuple: the same value goes to every output


class ReduceJob(PythonJob):
    """Sums a list (an input with BLOCK_COUNT > 1) and counts it."""

    def run(self, values):
        print(f"sum over {values} is {sum(values)}")
        return (sum(values), len(values))  # a tuple: one element per output
