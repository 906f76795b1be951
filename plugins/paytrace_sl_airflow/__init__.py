"""Airflow adapters for paytrace-sl: hooks, connection types, UI plugin."""
