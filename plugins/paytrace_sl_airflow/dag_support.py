"""What the DAG files share: schedule settings, retry policy, and the bridge from a task to the library.

Parse-time functions here only read environment variables (cheap, no database, no network): the DAG
processor re-parses every file every few seconds. Everything heavy is imported inside
:func:`run_payment_step` and friends, which run in the task.

Settings (environment, else the Airflow Variable of the same name in lower case, see ``_setting``):
``PAYTRACE_SL_INTERVAL`` (``hourly`` | ``daily``), ``PAYTRACE_SL_START_DATE`` and optional
``PAYTRACE_SL_END_DATE`` (``YYYY-MM-DD``, merchant-local), ``PAYTRACE_TIMEZONE`` (merchant zone),
``PAYTRACE_SL_RETRIES``, ``PAYTRACE_SL_TASK_TIMEOUT_MINUTES`` (every task's ``execution_timeout``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from paytrace_sl.pipeline.steps import PAYMENT_STEP_NAMES, SETTLEMENT_STEP_NAMES
from paytrace_sl.pipeline.windows import Interval, Window

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "America/Los_Angeles"
START_DATE_SETTING = "PAYTRACE_SL_START_DATE"
PAYTRACE_CONN_ID = "paytrace_default"
SL_CONN_ID = "dynamics_sl_default"

# Dotted paths (resolved in the worker) of errors worth retrying: every library error carrying the
# Transient marker (PayTrace 429/5xx and timeouts after the client's own retries, …), plus what
# third-party libraries raise for network trouble or a database briefly unreachable or locked.
TRANSIENT_ERRORS = [
    "paytrace_sl.errors.Transient",
    "requests.exceptions.ConnectionError",
    "requests.exceptions.Timeout",
    "sqlalchemy.exc.OperationalError",
    "sqlalchemy.exc.TimeoutError",
    "builtins.ConnectionError",
    "builtins.TimeoutError",
]


class StartDateMissing(ValueError):
    """``PAYTRACE_SL_START_DATE`` is missing or not a date: the DAG files refuse to load."""


def _setting(name: str, default: str) -> str:
    """Environment variable ``NAME``, else the Airflow Variable ``name`` (lower case; secrets backend,
    ``AIRFLOW_VAR_NAME`` or the metadata DB, so a Variable edited in the UI changes the schedule at the
    next parse), else ``default``: ``paytrace_sl.settings.env``, the library's precedence.

    A Variable read costs one lookup per setting per parse (Airflow's ``[secrets] use_cache`` caches them).
    """
    from paytrace_sl.settings import env

    return env(name) or default


def merchant_timezone() -> str:
    return _setting("PAYTRACE_TIMEZONE", DEFAULT_TIMEZONE)


def payments_interval() -> Interval:
    return Interval.parse(_setting("PAYTRACE_SL_INTERVAL", Interval.HOURLY.value))


def start_date() -> dt.datetime:
    """Merchant-local midnight of ``PAYTRACE_SL_START_DATE`` (zone-aware, as Airflow requires).

    Required, with no default: a default day in the past would make the first unpause schedule every
    interval since then (thousands of hourly catch-up runs), and "today" would move with every parse and
    let a missed night fall out of the schedule. The DAG import error in the UI says what to set.
    """
    import pendulum

    value = _setting(START_DATE_SETTING, "")
    if not value:
        raise StartDateMissing(
            f"{START_DATE_SETTING} is not set: set it (environment or Airflow Variable) to the first "
            "merchant day to sync, YYYY-MM-DD; the DAGs catch up from that day when first unpaused"
        )
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise StartDateMissing(f"{START_DATE_SETTING}={value!r} is not a date (YYYY-MM-DD)") from None
    return pendulum.datetime(day.year, day.month, day.day, tz=merchant_timezone())


def end_date() -> dt.datetime | None:
    """``PAYTRACE_SL_END_DATE`` as an exclusive end: no window starting on that merchant day or later.

    Airflow's ``end_date`` admits a run whose data interval *starts* at it, so the DAG gets the second
    before that day's midnight: with 2025-04-08 the last daily window is 2025-04-07 (as the CLI's
    ``--end``). None = run forever. Local setups use it so catch-up stops where the sandbox's data ends.
    """
    import pendulum

    value = _setting("PAYTRACE_SL_END_DATE", "")
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    return pendulum.datetime(day.year, day.month, day.day, tz=merchant_timezone()) - dt.timedelta(seconds=1)


def retry_policy() -> Any:
    """Retry transient errors with the task's exponential backoff; fail everything else at once.

    The rule names the exception classes by dotted path and leaves them unresolved until a task fails
    (Airflow resolves them then, in the worker, :meth:`RetryRule.matches`). Airflow's own rule checks
    each path at construction by importing it, i.e. at every parse of every DAG file, in the DAG
    processor and in each task process: ``requests.exceptions`` alone (requests builds its SSL context
    and reads the CA bundle at import) was about half of a DAG file's parse (docs/performance.md,
    issue 17). ``tests/integration/airflow/test_airflow_dag_wiring.py`` holds every path to an
    importable exception.
    """
    from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

    class TransientRule(RetryRule):  # type: ignore[misc,valid-type]
        def __post_init__(self) -> None:
            """No import at parse time (see :func:`retry_policy`)."""

    transient = TransientRule(
        exception=list(TRANSIENT_ERRORS), action=RetryAction.RETRY, reason="transient error"
    )
    return ExceptionRetryPolicy(rules=[transient], default=RetryAction.FAIL)


def task_timeout() -> dt.timedelta:
    """Every task's ``execution_timeout``: ``PAYTRACE_SL_TASK_TIMEOUT_MINUTES`` (default 120).

    The last bound on a try, whatever hangs (the PayTrace client has its own per-request deadline):
    the slowest step of a 1M-record day takes ~3-4 minutes (docs/performance.md).
    """
    raw = _setting("PAYTRACE_SL_TASK_TIMEOUT_MINUTES", "120")
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not minutes > 0:
        raise ValueError(f"PAYTRACE_SL_TASK_TIMEOUT_MINUTES must be a positive number, not {raw!r}")
    return dt.timedelta(minutes=minutes)


def default_task_args() -> dict[str, Any]:
    from paytrace_sl_airflow.callbacks import notify_failure

    return {
        "owner": "finance-it",
        "execution_timeout": task_timeout(),
        "retries": int(_setting("PAYTRACE_SL_RETRIES", "4")),
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=15),
        "retry_policy": retry_policy(),
        "on_failure_callback": notify_failure,
    }


# ------------------------------------------------------------------------------- parse-time wiring

# The Airflow face of each runner step: task id and the task's doc (shown in the UI). The DAG files spell
# the chain in the runner's order (paytrace_sl.pipeline.steps, which runner.PAYMENT_STEPS /
# SETTLEMENT_STEPS use); tests/integration/airflow/test_airflow_dag_wiring.py holds them to it.
PAYMENT_TASKS: dict[str, tuple[str, str]] = {
    "extract": (
        "extract",
        "PayTrace export of the window plus look-back → landing file; unparseable records → dead letters.",
    ),
    "validate": ("validate", "Great Expectations checks from the data contract; bad rows → dead letters."),
    "score_fraud": (
        "score_fraud",
        "Fraud rules + IsolationForest on every record → xPTFraudAlert and notifiers; never blocks posting "
        "unless mapping fraud.hold names the pattern (docs/fraud.md).",
    ),
    "transform": ("transform", "Records + SL customers/invoices + mapping.yaml → posting plan."),
    "load": ("load", "Write SL batches on Hold through the exactly-once writer."),
    "preflight": ("preflight", "SL's release checks on the batches this run wrote."),
    "summarize": (
        "summarize",
        "Row accounting, the run's xPTRun row, and a notification if items await a person.",
    ),
}
SETTLEMENT_TASKS: dict[str, tuple[str, str]] = {
    "settle_extract": (
        "extract_batches",
        "Settled batches of the day (plus look-back) and each batch's transaction list.",
    ),
    "settle_transform": ("plan_settlements", "One GL entry per batch and clearing account: clearing → bank."),
    "settle_load": ("load_settlements", "Write the GL batches on Hold through the exactly-once writer."),
    "reconcile": (
        "reconcile",
        "PayTrace batch count/net vs posted ledger rows → xPTRecon (matched, or the cents and why).",
    ),
    "settle_summarize": (
        "summarize",
        "The run's xPTRun row; a notification when a batch does not reconcile.",
    ),
    "report": (
        "report",
        "The auditor report for the day (HTML + CSV/JSON), listed on the PayTrace → SL UI page.",
    ),
}
STEP_TASKS: Mapping[str, tuple[str, str]] = PAYMENT_TASKS | SETTLEMENT_TASKS
assert set(STEP_TASKS) == {*PAYMENT_STEP_NAMES, *SETTLEMENT_STEP_NAMES}


def _step_callable(step: str, dag_id: str, task_id: str, doc: str) -> Callable[[], dict[str, Any]]:
    """The task's Python callable: runs ``step`` for the run's window."""

    def run_step() -> dict[str, Any]:
        return run_payment_step(step, dag_id)

    run_step.__name__ = task_id
    run_step.__qualname__ = f"{dag_id}.<locals>.{task_id}"  # as if defined in the @dag function
    run_step.__doc__ = doc
    return run_step


def step_task(dag_id: str, step: str) -> Any:
    """Inside a ``@dag`` function: the ``@task`` that runs runner step ``step`` (a name from
    ``paytrace_sl.pipeline.steps``), with its task id and doc from ``PAYMENT_TASKS`` /
    ``SETTLEMENT_TASKS``. The DAG file orders the tasks itself (``extract >> validate >> …``).

    The ``@dag`` function is named like the DAG id; the task's callable is named as if defined in it.
    Only names are needed at parse time; the step itself runs in the task (:func:`run_payment_step`).

    ``multiple_outputs=False``: the task pushes its summary as one XCom (``return_value``, what the run
    note listener reads). Airflow infers ``True`` from the ``dict`` return annotation and then pushes
    every key as an XCom of its own too: ~10 more execution-API calls per task, that nobody reads.
    """
    from airflow.sdk import task

    task_id, doc = STEP_TASKS[step]
    return task(task_id=task_id, multiple_outputs=False)(_step_callable(step, dag_id, task_id, doc))()


# ---------------------------------------------------------------------------------- task-time bridge


def pipeline_config(dag_id: str) -> Any:
    """A :class:`~paytrace_sl.pipeline.runner.PipelineConfig` by ``paytrace_sl.settings``' precedence.

    Environment first (``PAYTRACE_SL_*``, ``SL_DATABASE_URL``, ``PAYTRACE_*``), then the connections
    ``paytrace_default`` / ``dynamics_sl_default`` read through Airflow, so connections defined in the
    UI, in a secrets backend or as ``AIRFLOW_CONN_*`` variables all work; the same resolvers as the CLI.
    """
    from paytrace_sl.paytrace.config import PayTraceSettings
    from paytrace_sl.pipeline.runner import PipelineConfig, with_dag
    from paytrace_sl.settings import resolve_sl_url
    from paytrace_sl_airflow.hooks import airflow_connection

    paytrace_settings = PayTraceSettings.from_env(connection=airflow_connection(PAYTRACE_CONN_ID))
    sl_url = resolve_sl_url(None, lookup=airflow_connection, conn_id=SL_CONN_ID)
    cfg = PipelineConfig.from_env(sl_url=sl_url, paytrace=paytrace_settings)
    return with_dag(cfg, dag_id)


def with_try(cfg: Any, context: Mapping[str, Any]) -> Any:
    """``cfg`` with the task's try number: each try of a run is its own ``xPTRun`` attempt."""
    from dataclasses import replace

    ti = context.get("ti") or context.get("task_instance")
    try_number = getattr(ti, "try_number", None)
    return replace(cfg, try_number=int(try_number)) if isinstance(try_number, int) and try_number > 0 else cfg


def window_from_context(context: Mapping[str, Any], tz_name: str) -> Window:
    """The run's data interval as a merchant-tz window; refuses a zero-width interval (trigger timetable)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise ValueError(
            "this run has no data interval; trigger it with a logical date or use the replay DAG"
        )
    if end <= start:
        raise ValueError(
            f"zero-width data interval {start} → {end}: "
            "the DAG needs a data-interval timetable, not a trigger timetable"
        )
    return Window(start, end, tz_name)


def run_window_step(
    dag_id: str,
    step: str,
    steps: Mapping[str, Callable[[Any, Window, str], dict[str, Any]]],
    summary_steps: Collection[str],
) -> dict[str, Any]:
    """Run ``steps[step]`` for the current task's window, try and run id; returns its small summary.
    A failing summary step (one of ``summary_steps``) records the failed attempt in ``xPTRun`` first."""
    from airflow.sdk import get_current_context

    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.pipeline.bookkeeping import record_failure

    install_redaction()
    context = get_current_context()
    cfg = with_try(pipeline_config(dag_id), context)
    window = window_from_context(context, cfg.timezone)
    run_id = pipeline_run_id(dag_id, str(context["run_id"]))
    log.info("%s for %s (run %s)", step, window.label, run_id)
    try:
        return steps[step](cfg, window, run_id)
    except Exception as exc:
        if step in summary_steps:
            record_failure(cfg, window, run_id, exc)
        raise


def run_payment_step(step: str, dag_id: str) -> dict[str, Any]:
    """Run one payment or settlement step of :mod:`paytrace_sl.pipeline.runner` (:func:`run_window_step`)."""
    from paytrace_sl.pipeline import runner

    steps = dict(runner.PAYMENT_STEPS) | dict(runner.SETTLEMENT_STEPS)
    return run_window_step(dag_id, step, steps, ("summarize", "settle_summarize"))


def run_replay(dag_id: str) -> dict[str, Any]:
    """The replay task: read the Params, run :func:`paytrace_sl.pipeline.runner.replay`."""
    from airflow.sdk import get_current_context

    from paytrace_sl.logging_setup import install_redaction
    from paytrace_sl.pipeline import runner

    install_redaction()
    context = get_current_context()
    params = context["params"]
    ids = [int(i) for i in (params.get("dead_letter_ids") or [])]
    start = dt.date.fromisoformat(params["start_date"]) if params.get("start_date") else None
    end = dt.date.fromisoformat(params["end_date"]) if params.get("end_date") else None
    cfg = with_try(pipeline_config(dag_id), context)
    try:
        return runner.replay(cfg, str(context["run_id"]), dead_letter_ids=ids, start=start, end=end)
    except runner.NothingToReplay as exc:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(str(exc)) from exc  # every letter named is closed: nothing to do


# ------------------------------------------------------------------ settlements wait for payments

PAYMENTS_DAG_ID = "paytrace_payments_to_sl"


def payments_run_dates(
    logical_date: dt.datetime,
    data_interval_start: dt.datetime | None = None,
    data_interval_end: dt.datetime | None = None,
    **_: Any,
) -> list[dt.datetime]:
    """Logical dates of the payments runs whose windows make up this settlement run's merchant day.

    Scheduled and backfill runs have logical date = window start; a manual run (``dag.test``, a trigger
    with a logical date) has logical date = window end. The payments runs are assumed to have been made
    the same way as this run (both scheduled or backfilled, or both triggered), so the same convention
    is applied to each payments window: hourly payments → the day's 23, 24 or 25 hours (stepped in UTC,
    so DST days are right), daily → the day itself.
    """

    def utc(value: dt.datetime | None) -> dt.datetime | None:
        # plain datetimes in UTC (pendulum's differences are Intervals, and its sums drop the zone)
        if value is None:
            return None
        aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
        return dt.datetime.fromtimestamp(aware.timestamp(), dt.UTC)

    start, end, logical = utc(data_interval_start), utc(data_interval_end), utc(logical_date)
    if start is None or end is None or end <= start:
        raise ValueError(
            "the settlement run has no data interval: cannot tell which payments runs to wait for"
        )
    step = dt.timedelta(hours=1) if payments_interval() is Interval.HOURLY else end - start
    starts: list[dt.datetime] = []
    at = start
    while at < end:
        starts.append(at)
        at += step
    manual = logical == end
    return [s + step for s in starts] if manual else starts


def wait_for_payments() -> Any:
    """A sensor task: this settlement run's merchant day has been posted by the payments DAG.

    The auditor report lists the day's payments; written while the day's payments run is still going
    it shows zero transactions. Airflow's own ExternalTaskSensor (reschedule mode: no worker slot held
    while waiting, no triggerer needed) waits until every payments run of the day succeeded and fails
    at once if one failed (clear it after the payments run is fixed). Poke interval and timeout:
    ``PAYTRACE_SL_PAYMENTS_WAIT_POKE_SECONDS`` (60), ``PAYTRACE_SL_PAYMENTS_WAIT_TIMEOUT_HOURS`` (24).
    """
    from airflow.providers.standard.sensors.external_task import ExternalTaskSensor

    return ExternalTaskSensor(
        task_id="wait_for_payments",
        doc_md="Waits until the payments DAG has finished every window of this merchant day (report input).",
        external_dag_id=PAYMENTS_DAG_ID,
        external_task_id=None,  # the whole DAG run
        allowed_states=["success"],
        failed_states=["failed"],
        execution_date_fn=payments_run_dates,
        mode="reschedule",
        poke_interval=float(_setting("PAYTRACE_SL_PAYMENTS_WAIT_POKE_SECONDS", "60")),
        timeout=float(_setting("PAYTRACE_SL_PAYMENTS_WAIT_TIMEOUT_HOURS", "24")) * 3600,
        retries=0,  # a failed or timed-out wait is a fact to look at, not a transient error
    )


def max_active_runs() -> int:
    """``PAYTRACE_SL_MAX_ACTIVE_RUNS`` (default 1): windows of one DAG running at the same time.

    Parallel windows with overlapping look-backs are safe (docs/operations.md, windows in parallel);
    raise it to catch up faster on several Celery workers.
    """
    value = int(_setting("PAYTRACE_SL_MAX_ACTIVE_RUNS", "1"))
    if value < 1:
        raise ValueError(f"PAYTRACE_SL_MAX_ACTIVE_RUNS={value}: at least 1")
    return value


def pipeline_run_id(dag_id: str, airflow_run_id: str) -> str:
    """The run id the library records (``xPTRun`` key, landing directory, ledger attribution).

    Airflow run ids are unique per DAG only: the payments and settlements runs of one logical date are
    both ``scheduled__<date>`` (or ``backfill__<date>``), so the second summary overwrote the first's
    ``xPTRun`` row and both shared a landing directory. Payments keep Airflow's id; the other DAGs'
    runs are prefixed with the DAG id (as ``paytrace-sl sync`` names its settlement runs apart).
    """
    if dag_id == PAYMENTS_DAG_ID:
        return airflow_run_id
    return f"{dag_id}__{airflow_run_id}"
