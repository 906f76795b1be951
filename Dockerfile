# The paytrace-sl image: Apache Airflow 3.3 and the project, installed from the project's wheel on the
# locked dependency set (uv.lock). Used by docker-compose.yml and deploy/helm/values.yaml; see
# docs/deployment.md. Every Airflow component runs from it: `docker run IMAGE scheduler`, `... celery worker`.

# The production image holds the bridge only. PAYTRACE_SL_SANDBOX=1 (docker-compose's `sandbox` profile
# builds its own image so) adds the paytrace-sl-sandbox wheel: the PayTrace sandbox server and the SL
# sandbox seed, for trying things out.
ARG PAYTRACE_SL_SANDBOX=0

# ---- build: the wheel(s), and the locked requirements (with hashes) they run on
FROM python:3.11-slim-bookworm AS build
ARG PAYTRACE_SL_SANDBOX
WORKDIR /src
RUN python -m pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
COPY packages packages
COPY data_contracts data_contracts
COPY include include
COPY plugins plugins
RUN uv build --wheel --out-dir /dist \
 && if [ "${PAYTRACE_SL_SANDBOX}" = "1" ]; then uv build --wheel --package paytrace-sl-sandbox --out-dir /dist; fi \
 && uv export --frozen --no-dev --no-emit-project --format requirements.txt -o /dist/requirements.txt

# ---- runtime
FROM python:3.11-slim-bookworm
# unixodbc: the ODBC driver manager pyodbc needs; tdsodbc: FreeTDS, the SQL Server driver from Debian
# (Microsoft's ODBC Driver 18 can be added in a derived image: docs/sl-schema.md); curl: healthchecks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc tdsodbc curl \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/paytrace-sl/venv \
    AIRFLOW_HOME=/opt/airflow \
    PYTHONUNBUFFERED=1
ENV PATH="${VIRTUAL_ENV}/bin:${PATH}"
COPY --from=build /dist /tmp/dist
RUN python -m venv "${VIRTUAL_ENV}" \
 && pip install --no-cache-dir --require-hashes -r /tmp/dist/requirements.txt \
 && pip install --no-cache-dir --no-deps /tmp/dist/paytrace_sl-*.whl \
 && if ls /tmp/dist/paytrace_sl_sandbox-*.whl >/dev/null 2>&1; then \
      pip install --no-cache-dir --no-deps /tmp/dist/paytrace_sl_sandbox-*.whl; fi \
 && rm -rf /tmp/dist
# Data contracts and mapping (read at run time), the DAG files (wiring only), the SQL Server scripts.
COPY data_contracts /opt/paytrace-sl/data_contracts
COPY sql /opt/paytrace-sl/sql
COPY dags /opt/airflow/dags
# The library looks for data_contracts/ beside its install tree (as in a checkout): link the shipped copy.
RUN ln -s /opt/paytrace-sl/data_contracts \
      "$(python -c 'import pathlib, paytrace_sl; print(pathlib.Path(paytrace_sl.__file__).resolve().parents[2])')/data_contracts" \
 && python -c 'from paytrace_sl.pipeline.contracts import contracts_dir; assert (contracts_dir() / "mapping.yaml").is_file()'
# Airflow's conventional user (uid 50000, group 0); logs and our working files are writable by it.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --no-create-home airflow \
 && mkdir -p /opt/airflow/logs /var/lib/paytrace-sl/landing /var/lib/paytrace-sl/gx /var/lib/paytrace-sl/reports \
 && chown -R 50000:0 /opt/airflow /var/lib/paytrace-sl
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    PAYTRACE_SL_MAPPING=/opt/paytrace-sl/data_contracts/mapping.yaml \
    PAYTRACE_SL_LANDING_DIR=/var/lib/paytrace-sl/landing \
    PAYTRACE_SL_GX_DIR=/var/lib/paytrace-sl/gx \
    PAYTRACE_SL_REPORTS_DIR=/var/lib/paytrace-sl/reports \
    GX_ANALYTICS_ENABLED=false
USER 50000
WORKDIR /opt/airflow
ENTRYPOINT ["airflow"]
CMD ["version"]
