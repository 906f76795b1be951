"""Provider metadata: registers our connection types with Airflow's UI.

Loaded through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ builds connection forms from the declarative ``conn-fields``/``ui-field-behaviour`` keys;
they come from :mod:`paytrace_sl.paytrace.connection_ui`, which the hooks use too, so they cannot drift.
"""

from __future__ import annotations

from typing import Any

from paytrace_sl.paytrace.connection_ui import connection_types_ui


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads at start-up."""
    ui = connection_types_ui()
    return {
        "package-name": "paytrace-sl",
        "name": "PayTrace to Dynamics SL",
        "description": "Connection types and hooks for the PayTrace gateway and a Dynamics SL database.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "hook-class-name": "paytrace_sl_airflow.hooks.PayTraceHook",
                "connection-type": "paytrace",
                "hook-name": "PayTrace",
                **ui["paytrace"],
            },
            {
                "hook-class-name": "paytrace_sl_airflow.hooks.DynamicsSLHook",
                "connection-type": "dynamics_sl",
                "hook-name": "Dynamics SL",
                **ui["dynamics_sl"],
            },
        ],
    }
