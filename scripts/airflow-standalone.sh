#!/usr/bin/env bash
# `make airflow`: Airflow standalone on this checkout, wired to a PayTrace sandbox and a SQLite SL sandbox.
#
# - AIRFLOW_HOME=./var/airflow, DAGs from ./dags, metadata DB SQLite (a demo: use PostgreSQL for more);
# - starts the PayTrace sandbox (http://127.0.0.1:${PAYTRACE_SANDBOX_PORT:-8765}, 7 days from 2025-04-01)
#   and seeds ./var/airflow/sl-sandbox.db once;
# - connections paytrace_default / dynamics_sl_default come from AIRFLOW_CONN_* variables;
# - DAGs are unpaused: daily runs catch up from PAYTRACE_SL_START_DATE to where the sandbox data ends;
# - prints the admin login (standalone writes the password file); stop with Ctrl-C (SIGINT).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${ROOT}/.venv/bin"
export PATH="${VENV_BIN}:${PATH}"  # standalone starts its components as plain `airflow ...`

VAR="${ROOT}/var/airflow"
mkdir -p "${VAR}"
PORT="${PAYTRACE_SANDBOX_PORT:-8765}"
START="${PAYTRACE_SL_START_DATE:-2025-04-01}"
DAYS="${PAYTRACE_SANDBOX_DAYS:-7}"
TX_PER_DAY="${PAYTRACE_SANDBOX_TX_PER_DAY:-200}"
SEED="${PAYTRACE_SANDBOX_SEED:-42}"
SL_DB="${VAR}/sl-sandbox.db"

export AIRFLOW_HOME="${VAR}"
export AIRFLOW__CORE__DAGS_FOLDER="${ROOT}/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="${ROOT}/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///${VAR}/airflow.db"
# Unpaused at creation: no slow CLI round-trips after start-up. A task queued before the API server is
# up fails its first try and is retried (transient), which is harmless.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"  # LocalExecutor workers; default 32 is a lot
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
export PAYTRACE_TIMEZONE="${PAYTRACE_TIMEZONE:-America/Los_Angeles}"
export PAYTRACE_SL_INTERVAL="${PAYTRACE_SL_INTERVAL:-daily}"
export PAYTRACE_SL_START_DATE="${START}"
export PAYTRACE_SL_END_DATE="${PAYTRACE_SL_END_DATE:-$(date -d "${START} + ${DAYS} days" +%F)}"  # catch-up stops where the sandbox data ends
export PAYTRACE_SL_LANDING_DIR="${VAR}/landing"
export PAYTRACE_SL_GX_DIR="${VAR}/gx"
export GX_ANALYTICS_ENABLED=false

# The SL sandbox's chart of accounts differs from the shipped mapping.yaml: use a copy that fits it.
"${VENV_BIN}/python" -c "from pathlib import Path; from paytrace_sl.demo import write_sandbox_mapping; write_sandbox_mapping(Path('${VAR}/mapping-sandbox.yaml'), unidentified_receipts=True)"
export PAYTRACE_SL_MAPPING="${PAYTRACE_SL_MAPPING:-${VAR}/mapping-sandbox.yaml}"

if [[ ! -f "${SL_DB}" ]]; then
  echo "SL sandbox: seeding ${SL_DB}"
  "${VENV_BIN}/paytrace-sl" sl init-sandbox --sl-url "sqlite:///${SL_DB}" \
    --seed "${SEED}" --start "${START}" --days "${DAYS}" --tx-per-day "${TX_PER_DAY}" >/dev/null
fi

echo "PayTrace sandbox: http://127.0.0.1:${PORT}"
"${VENV_BIN}/paytrace-sl" sandbox serve --port "${PORT}" --seed "${SEED}" --start "${START}" --days "${DAYS}" \
  --tx-per-day "${TX_PER_DAY}" >"${VAR}/paytrace-sandbox.log" 2>&1 &
SANDBOX_PID=$!

export AIRFLOW_CONN_PAYTRACE_DEFAULT="{\"conn_type\": \"paytrace\", \"host\": \"http://127.0.0.1:${PORT}\", \"login\": \"sandbox\", \"password\": \"sandbox-password\", \"extra\": {\"timezone\": \"${PAYTRACE_TIMEZONE}\"}}"
export AIRFLOW_CONN_DYNAMICS_SL_DEFAULT="{\"conn_type\": \"dynamics_sl\", \"extra\": {\"sqlalchemy_url\": \"sqlite:///${SL_DB}\"}}"

PRINTER_PID=""
cleanup() {
  [[ -n "${PRINTER_PID}" ]] && kill "${PRINTER_PID}" 2>/dev/null || true
  kill "${SANDBOX_PID}" 2>/dev/null || true
  wait "${SANDBOX_PID}" 2>/dev/null || true
}
trap cleanup EXIT

airflow db migrate >/dev/null

# Print the login once the API server answers (standalone writes the password file on first start).
(
  for _ in $(seq 1 120); do
    if curl -fsS "http://localhost:8080/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
    sleep 2
  done
  PASSWORD_FILE="${VAR}/simple_auth_manager_passwords.json.generated"
  echo
  echo "================================================================================"
  echo "Airflow UI:  http://localhost:8080"
  if [[ -f "${PASSWORD_FILE}" ]]; then
    echo "Login:       $(cat "${PASSWORD_FILE}")"
  else
    echo "Login:       see 'Login with username' in the output above"
  fi
  echo "SL sandbox:  sqlite:///${SL_DB}"
  echo "DAGs:        unpaused; daily runs ${START} .. ${PAYTRACE_SL_END_DATE} (exclusive) catch up now"
  echo "Stop:        Ctrl-C"
  echo "================================================================================"
) &
PRINTER_PID=$!

# In the foreground, so Ctrl-C (SIGINT) reaches it: standalone shuts its components down only on SIGINT.
airflow standalone
