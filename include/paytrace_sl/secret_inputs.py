"""Reading credentials safely: SL URLs with awkward passwords, and secrets from files.

* An SL URL whose password holds an unescaped ``@`` (``mssql+pyodbc://sa:p@ss@host/SL``) is read by
  SQLAlchemy as password ``p`` and host ``ss@host``: the connection fails and every "hidden" rendering
  of the URL prints the password's tail. :func:`normalize_sl_url` reads the password up to the *last*
  ``@`` of the authority, percent-encodes it, and registers it for redaction.
* Command-line values are visible to every user of the machine (``ps``, ``/proc/<pid>/cmdline``):
  :func:`read_secret_file` reads a secret from a file instead (first line, trailing newline removed),
  which is how container and systemd secrets arrive.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

from paytrace_sl.redaction import register_secret
from paytrace_sl.settings import ConfigurationError

# appended to the CLI help of options that may carry a secret
SL_URL_HELP_NOTE = (
    " A password in it shows in process listings: prefer $SL_DATABASE_URL, $SL_DATABASE_URL_FILE or "
    "'paytrace-sl --sl-url-file FILE …'."
)
CREDENTIAL_FLAG_NOTE = (
    " Shows in process listings: prefer $PAYTRACE_PASSWORD, $PAYTRACE_PASSWORD_FILE or "
    "'paytrace-sl --password-file FILE …'."
)


def url_password(url: str) -> str | None:
    """The (decoded) password of a SQLAlchemy URL, reading up to the last ``@`` before the host."""
    parts = _split(url)
    return None if parts is None else unquote(parts[2])


def _split(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme, user, raw password, host and the rest)`` or None when the URL has no password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority_and_path, _, _query = rest.partition("?")
    at = authority_and_path.rfind("@")
    if at < 0:
        return None
    user, colon, password = authority_and_path[:at].partition(":")
    if not colon:
        return None
    return scheme, user, password, rest[at + 1 :]


def normalize_sl_url(url: str) -> str:
    """``url`` with its password percent-encoded (so SQLAlchemy parses it whole), registered for redaction.

    Already-encoded passwords (``%40``) stay as they are; a URL without a password is returned unchanged.
    """
    parts = _split(url)
    if parts is None:
        return url
    scheme, user, raw, rest = parts
    password = unquote(raw)
    register_secret(password)
    register_secret(raw)
    return f"{scheme}://{user}:{quote(password, safe='')}@{rest}"


def read_secret_file(path: str | Path, what: str) -> str:
    """The secret stored in ``path`` (first line, surrounding whitespace removed); ``what`` names it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} from {path}: {exc.strerror}") from None
    value = text.splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise ConfigurationError(f"{what} file {path} is empty")
    register_secret(value)
    return value
