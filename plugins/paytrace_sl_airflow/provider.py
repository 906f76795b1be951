"""Provider metadata: registers our connection types with Airflow's UI (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads at start-up."""
    return {
        "package-name": "paytrace-sl",
        "name": "PayTrace to Dynamics SL",
        "description": "Connection types and hooks for the PayTrace gateway and a Dynamics SL database.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"hook-class-name": "paytrace_sl_airflow.hooks.PayTraceHook", "connection-type": "paytrace"},
            {"hook-class-name": "paytrace_sl_airflow.hooks.DynamicsSLHook", "connection-type": "dynamics_sl"},
        ],
    }
