"""``python -m fission.cli.admin <project> startproject`` (same as fission_admin.py)."""

import sys

from fission.cli.main import admin_main

if __name__ == "__main__":
    sys.exit(admin_main())
