"""PayTrace → Dynamics SL bridge library (no Airflow imports here)."""

__version__ = "0.1.0"
