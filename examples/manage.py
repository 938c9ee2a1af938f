#!/usr/bin/env python3
"""Command-line utility of the FISSION project 'examples'.

Usage: python3 manage.py <network> <command> [options]   (python3 manage.py --help lists them)
"""

import sys
from pathlib import Path


def main() -> None:
    try:
        from fission.cli.main import manage_main
    except ImportError:
        sys.exit(
            "FISSION is not installed in this Python. Activate the virtual environment it is "
            "installed in, or install it: pip install fission-streams"
        )
    sys.exit(manage_main(Path(__file__).resolve().parent, sys.argv[1:]))


if __name__ == "__main__":
    main()
