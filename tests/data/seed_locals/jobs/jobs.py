"""Jobs of the seed tutorial's extended network (its 'locals' graph), made finite for a test."""

import os
import time

from fission.core.jobs import PythonJob


class SourceJob(PythonJob):
    """Counts 1..count; after ``pause_after`` values it waits until the file ``gate`` exists,
    so a test can type input at a known round."""

    def __init__(self, count, pause_after, gate, **kwargs):
        super().__init__(**kwargs)
        self.count = count
        self.pause_after = pause_after
        self.gate = gate

    def run(self):
        for value in range(1, self.count + 1):
            if value == self.pause_after + 1:
                while not os.path.exists(self.gate):
                    time.sleep(0.01)
            yield value


class JoinJob(PythonJob):
    """Combines the three sources with the operator typed on the client (optional input)."""

    def run(self, in_1, in_2, in_3, operator):
        if operator == "+":
            result = in_1 + in_2 + in_3
        else:
            result = in_1 * in_2 * in_3
        print(f"{self.id} -> {in_1} {operator} {in_2} {operator} {in_3} = {result}")
        return (result, result, operator)


class ReduceJob(PythonJob):
    def run(self, values):
        result = sum(values)
        print(f"{self.id} -> Sum over {values} is {result}")
        return result
