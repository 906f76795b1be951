"""The SQL Server ODBC driver that bootstrap installs (Debian's FreeTDS) loads through pyodbc.

No SQL Server runs here, so the proof is the driver's own answer: connecting to a closed port must fail
inside FreeTDS ("[FreeTDS]… Unable to connect"), not in the driver manager ("IM002: data source name not
found", or "Can't open lib"), which is what a missing or unregistered driver gives.
"""

from __future__ import annotations

import socket

import pyodbc
import pytest
import sqlalchemy as sa

from paytrace_sl.sl.engine import create_sl_engine

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_freetds_is_registered_with_the_driver_manager() -> None:
    assert "FreeTDS" in pyodbc.drivers(), "run scripts/bootstrap.sh as root (installs tdsodbc)"


def test_documented_url_form_reaches_the_freetds_driver() -> None:
    url = (
        f"mssql+pyodbc://sa:S3cret%40pw@127.0.0.1:{_closed_port()}/SL"
        "?driver=FreeTDS&TDS_Version=7.4&LoginTimeout=2"
    )
    engine = create_sl_engine(url, lock_timeout=5, statement_timeout=60)
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            engine.connect()
    finally:
        engine.dispose()
    text = str(caught.value.orig)
    assert "[FreeTDS]" in text and "[Driver Manager]" not in text
    assert "S3cret" not in text


def test_unknown_driver_name_is_the_driver_managers_error() -> None:
    """The counter-check: a driver that is not installed fails in the driver manager, not in a driver."""
    url = f"mssql+pyodbc://sa:pw@127.0.0.1:{_closed_port()}/SL?driver=No+Such+Driver"
    engine = create_sl_engine(url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            engine.connect()
    finally:
        engine.dispose()
    text = str(caught.value.orig)
    assert "[Driver Manager]" in text and "[FreeTDS]" not in text
