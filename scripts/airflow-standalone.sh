#!/usr/bin/env bash
# `make airflow`: Airflow standalone on this checkout, wired to a PayTrace sandbox and a SQLite SL sandbox.
#
# - AIRFLOW_HOME=./var/airflow (PAYTRACE_SL_AIRFLOW_HOME), DAGs from ./dags;
# - metadata DB: PostgreSQL database `paytrace_sl_airflow` on 127.0.0.1:5432 when PostgreSQL answers there
#   (created if missing; holds concurrent UI use such as backfills), else SQLite with a warning;
#   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN set by you wins;
# - starts the PayTrace sandbox (http://127.0.0.1:${PAYTRACE_SANDBOX_PORT:-8765}, 7 days from 2025-04-01)
#   and seeds ./var/airflow/sl-sandbox.db once;
# - connections paytrace_default / dynamics_sl_default are created in the metadata DB when missing, so
#   edits made in the UI (Admin -> Connections) are what the next run uses;
# - the schedule settings are Airflow Variables created when missing (paytrace_sl_interval = daily,
#   paytrace_sl_start_date, paytrace_sl_end_date, paytrace_timezone), edited in Admin -> Variables; one
#   you export yourself (PAYTRACE_SL_INTERVAL=...) pins that setting instead: the environment wins over
#   the UI, and the banner says so (paytrace_sl_airflow.startup prints what the tasks will use);
# - DAGs are unpaused: daily runs catch up from the start date to the end date (exclusive), where the
#   sandbox data ends;
# - prints the admin login (standalone writes the password file); one Ctrl-C (SIGINT) or SIGTERM stops
#   everything this script started within seconds (Airflow runs in its own process group, which the
#   script stops: SIGINT, then SIGTERM, then SIGKILL).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${ROOT}/.venv/bin"
export PATH="${VENV_BIN}:${PATH}"  # standalone starts its components as plain `airflow ...`

VAR="${PAYTRACE_SL_AIRFLOW_HOME:-${ROOT}/var/airflow}"
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
API_PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__PORT="${API_PORT}"
META_DB="${PAYTRACE_SL_AIRFLOW_DB:-paytrace_sl_airflow}"
if [[ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]]; then
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    "${VENV_BIN}/python" - "${META_DB}" <<'PY'
import sys
import psycopg
name = sys.argv[1]
with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        conn.execute(f'CREATE DATABASE "{name}"')
PY
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg://postgres@127.0.0.1:5432/${META_DB}"
    # Airflow derives postgresql+asyncpg for its async engine; asyncpg is not installed, psycopg 3 is.
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="postgresql+psycopg_async://postgres@127.0.0.1:5432/${META_DB}"
  else
    echo "WARNING: no PostgreSQL on 127.0.0.1:5432: metadata DB is SQLite, which fails under concurrent" >&2
    echo "         UI use (backfills from the UI may fail). Start PostgreSQL or set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN." >&2
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///${VAR}/airflow.db"
  fi
fi
# Unpaused at creation: no slow CLI round-trips after start-up. A task queued before the API server is
# up fails its first try and is retried (transient), which is harmless.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"  # LocalExecutor workers; default 32 is a lot
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
# Schedule settings: Airflow Variables seeded below (not exported: an exported one would hide UI edits).
MERCHANT_TZ="${PAYTRACE_TIMEZONE:-America/Los_Angeles}"
END="${PAYTRACE_SL_END_DATE:-$(date -d "${START} + ${DAYS} days" +%F)}"  # catch-up stops where the sandbox data ends
export PAYTRACE_SL_LANDING_DIR="${VAR}/landing"
export PAYTRACE_SL_GX_DIR="${VAR}/gx"
export PAYTRACE_SL_CHARGEBACKS_DIR="${PAYTRACE_SL_CHARGEBACKS_DIR:-${VAR}/chargebacks}"  # drop processor files into its inbox/
export GX_ANALYTICS_ENABLED=false

# The SL sandbox's chart of accounts differs from the shipped mapping.yaml: use a copy that fits it.
"${VENV_BIN}/python" -c "from pathlib import Path; from paytrace_sl_sandbox.demo import write_sandbox_mapping; write_sandbox_mapping(Path('${VAR}/mapping-sandbox.yaml'), unidentified_receipts=True)"
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

AIRFLOW_PID=""
PRINTER_PID=""
cleanup() {
  trap - INT TERM EXIT
  if [[ -n "${AIRFLOW_PID}" ]] && kill -0 -- "-${AIRFLOW_PID}" 2>/dev/null; then
    echo "stopping Airflow (process group ${AIRFLOW_PID})..."
    kill -INT -- "-${AIRFLOW_PID}" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 -- "-${AIRFLOW_PID}" 2>/dev/null || break; sleep 0.5; done
    kill -TERM -- "-${AIRFLOW_PID}" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 -- "-${AIRFLOW_PID}" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-${AIRFLOW_PID}" 2>/dev/null || true
  fi
  [[ -n "${PRINTER_PID}" ]] && kill "${PRINTER_PID}" 2>/dev/null || true
  kill "${SANDBOX_PID}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "stopped."
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

airflow db migrate >/dev/null

# Connections live in the metadata DB (created once), not in AIRFLOW_CONN_* variables: Airflow reads
# environment connections before the metadata DB, which would silently override every UI edit.
unset AIRFLOW_CONN_PAYTRACE_DEFAULT AIRFLOW_CONN_DYNAMICS_SL_DEFAULT
if ! airflow connections get paytrace_default >/dev/null 2>&1; then
  airflow connections add paytrace_default --conn-type paytrace --conn-host "http://127.0.0.1:${PORT}" \
    --conn-login sandbox --conn-password sandbox-password \
    --conn-extra "{\"timezone\": \"${MERCHANT_TZ}\"}" >/dev/null
fi
if ! airflow connections get dynamics_sl_default >/dev/null 2>&1; then
  airflow connections add dynamics_sl_default --conn-type dynamics_sl \
    --conn-extra "{\"sqlalchemy_url\": \"sqlite:///${SL_DB}\"}" >/dev/null
fi

# Schedule Variables (created when missing; a UI edit is kept across restarts).
_AIRFLOW_PROCESS_CONTEXT=server "${VENV_BIN}/python" -m paytrace_sl_airflow.startup seed \
  PAYTRACE_SL_INTERVAL=daily PAYTRACE_SL_START_DATE="${START}" PAYTRACE_SL_END_DATE="${END}" \
  PAYTRACE_TIMEZONE="${MERCHANT_TZ}"

# Print the login once the API server answers (standalone writes the password file on first start).
(
  for _ in $(seq 1 120); do
    if curl -fsS "http://localhost:${API_PORT}/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
    sleep 2
  done
  PASSWORD_FILE="${VAR}/simple_auth_manager_passwords.json.generated"
  echo
  echo "================================================================================"
  echo "Airflow UI:  http://localhost:${API_PORT}"
  if [[ -f "${PASSWORD_FILE}" ]]; then
    echo "Login:       $(cat "${PASSWORD_FILE}")"
  else
    echo "Login:       see 'Login with username' in the output above"
  fi
  echo "Metadata DB: ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}"
  echo "Data Docs:   http://localhost:${API_PORT}/paytrace-sl/data-docs/ (also linked from Browse -> PayTrace reconciliation)"
  echo "What the next task uses, and from where (an environment variable wins over the UI):"
  _AIRFLOW_PROCESS_CONTEXT=server "${VENV_BIN}/python" -m paytrace_sl_airflow.startup banner 2>/dev/null \
    | sed 's/^/  /' || echo "  (could not read the settings: see paytrace_sl_airflow.startup banner)"
  echo "DAGs:        unpaused; runs catch up from the start date to the end date (exclusive) now"
  echo "Stop:        Ctrl-C"
  echo "================================================================================"
) &
PRINTER_PID=$!

# In its own process group (setsid), so the script decides how it stops: a terminal's Ctrl-C reaches
# only this script, whose EXIT trap stops the whole group (SIGINT, then SIGTERM, then SIGKILL).
setsid airflow standalone &
AIRFLOW_PID=$!
wait "${AIRFLOW_PID}"
