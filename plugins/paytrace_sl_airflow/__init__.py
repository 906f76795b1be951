"""Airflow adapters for paytrace-sl: hooks, connection types, UI plugin.

Importing the adapter (DAG files, the UI plugin, the provider) makes Airflow Variables a settings source
for the library: ``paytrace_sl.settings`` step 3 (``paytrace_sl_*`` Variables, as edited in the UI).
"""

from paytrace_sl.settings import use_variables


def _variable(key: str) -> str | None:
    from paytrace_sl_airflow.hooks import airflow_variable

    return airflow_variable(key)


use_variables(_variable)
