"""Command line: fission_admin.py, manage.py and the fission console script."""
