"""``python -m fission <command>``: the ``fission`` script for a given Python (the Makefile of a
project uses it so that the client's venv is the one that runs)."""

import sys

from fission.cli.main import fission_main

sys.exit(fission_main())
