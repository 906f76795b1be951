#!/usr/bin/env bash
# Create the project environment from nothing: system packages (root only), uv, and .venv from uv.lock.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
# unixodbc: the ODBC driver manager pyodbc needs; tdsodbc: FreeTDS, a SQL Server ODBC driver from
# Debian's packages (Microsoft's ODBC Driver 18 works too where the customer has it: docs/sl-schema.md).
APT_PACKAGES=(unixodbc tdsodbc)

missing_apt=()
if ! ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2'; then
  missing_apt+=(unixodbc)
fi
if ! grep -qs '^\[FreeTDS\]' /etc/odbcinst.ini; then
  missing_apt+=(tdsodbc)
fi
if [ "${PAYTRACE_SL_NEED_CHROMIUM:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  missing_apt+=(chromium)
fi
if [ ${#missing_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "bootstrap: installing system packages: ${missing_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages. Run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_apt[*]}" >&2
    exit 1
  fi
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "bootstrap: Python >= 3.11 is required (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi

if [ ! -x .tools/bin/uv ]; then
  echo "bootstrap: installing uv ${UV_VERSION} into .tools/"
  "$PY" -m venv .tools
  .tools/bin/python -m pip install -q "uv==${UV_VERSION}"
fi

export UV_PYTHON_DOWNLOADS=never
.tools/bin/uv sync --frozen --all-packages --extra dev --python "$(command -v "$PY")" --quiet
