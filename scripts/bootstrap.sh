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
# Programs the tests and some commands use, from Debian packages when missing: dot draws the
# graph pictures, gcc builds the executables' test programs, make and systemd-analyze serve the
# provisioning targets and their checks, ip makes the emulated hosts' network namespaces.
missing=""
for pair in dot:graphviz gcc:gcc make:make systemd-analyze:systemd ip:iproute2; do
  command -v "${pair%%:*}" >/dev/null || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages:$missing ..." >&2
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,cluster,deploy]"
echo "FISSION is installed in .venv (activate it with: source .venv/bin/activate)" >&2
