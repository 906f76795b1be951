#!/usr/bin/env bash
# `make demo`: 7 days of PayTrace sandbox data through both DAGs (real Airflow runs) into a SQLite SL sandbox.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="${ROOT}/.venv/bin:${PATH}"
exec "${ROOT}/.venv/bin/python" -m paytrace_sl_sandbox.demo "$@"
