from fission.core.jobs import PythonJob


class CalcJob(PythonJob):
    """Applies the operator typed on the client to the two sources' values."""

    def run(self, a, b, operator):
        result = {"+": a + b, "-": a - b, "*": a * b}[operator]
        print(f"{a} {operator} {b} = {result}")
        return (result, operator)
