"""Entry point ``airflow.plugins = paytrace_sl_airflow.plugin:PaytraceSlPlugin`` (see pyproject)."""

from paytrace_sl_airflow.ui_plugin import PaytraceSlPlugin

__all__ = ["PaytraceSlPlugin"]
