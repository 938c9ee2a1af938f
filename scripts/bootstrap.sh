#!/usr/bin/env bash
# Set up FISSION for development on a fresh Debian/Ubuntu machine with Python 3.11+:
# a virtual environment in .venv with FISSION installed (editable) with its cluster extra (Ray),
# its deploy extra (ansible, for provisioning servers) and the test tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "FISSION needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately (python3-venv); install it if we may.
    rm -rf .venv
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing python3-venv (Debian package) ..." >&2
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
if ! command -v dot >/dev/null; then
  # Graphviz's dot draws the graph pictures (visualize, graphviz, show) and their tests.
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing graphviz (Debian package, for the dot program) ..." >&2
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz >/dev/null
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,cluster,deploy]"
echo "FISSION is installed in .venv (activate it with: source .venv/bin/activate)" >&2
