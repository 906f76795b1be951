"""The PCI/secret scanner: finds what must not be there, never repeats it, and stays quiet on our data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from paytrace_sl.cli import security as cli_security
from paytrace_sl.pci_scan import Finding, scan_paths, scan_text, summarize
from paytrace_sl_sandbox.merchant import MerchantConfig, MerchantSimulation

PAN = "4111111111111111"
TOKEN = "0123456789abcdef:fedcba9876543210:" + "9f" * 32
PASSWORD = "Sup3r-Secret!pw"
INTEGRATOR = "INTEG0123XYZ"


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def assert_nothing_leaks(findings: list[Finding], *values: str) -> None:
    for finding in findings:
        for value in values:
            assert value not in str(finding), f"the finding repeats a secret: {finding}"


@pytest.mark.parametrize(
    "text",
    [
        PAN,
        "card 4111 1111 1111 1111 was used",
        "card 4111-1111-1111-1111 was used",
        '{"number": "378282246310005"}',  # Amex, 15 digits
        "6011000990139424,",  # Discover
        "x=5555555555554444&y=1",
        "4012888888881881",
    ],
)
def test_full_card_numbers_are_found_and_masked(text: str) -> None:
    findings = scan_text(text, location="t")
    assert kinds(findings) == ["pan"]
    assert findings[0].location == "t:1"
    digits = "".join(c for c in text if c.isdigit() and c)
    assert_nothing_leaks(findings, digits[:12] if len(digits) >= 16 else digits[:10])
    assert "*" in findings[0].excerpt


@pytest.mark.parametrize(
    "text",
    [
        "411111******1111",
        "************1111",
        "4111 11** **** 1111",
        "4111111111111112",  # fails Luhn
        "transaction 81234567 batch 000101 id 123456789",
        "2025-04-01T12:34:56-07:00 4/1/2025 3:04:05 PM",
        "record_digest 3fa1c2d4111111111111111e9b0a7c6d5e4f3a2b1c0d9e8f",  # hex digest
        "amount 1234567890123.45 float 0.4111111111111111",
        "Authorization: Bearer *** token_type bearer; password=***",
        '{"password": "***", "csc": "***", "access_token": "<redacted>"}',
        "the Bearer authentication scheme",
    ],
)
def test_masked_and_ordinary_values_are_not_findings(text: str) -> None:
    assert scan_text(text, secrets=["not-here-secret"]) == []


def test_cvv_credentials_bearer_and_token_shapes() -> None:
    text = "\n".join(
        [
            '{"csc": "123", "amount": 10}',
            "cvv=4567&x=1",
            "'cvc': 999",
            f'{{"password": "{PASSWORD}"}}',
            "client_secret=abcdEFGH1234",
            "Authorization: Bearer abc123def456ghi789",
            f"token {TOKEN} issued",
        ]
    )
    findings = scan_text(text, location="log")
    assert [(f.kind, f.location) for f in findings] == [
        ("cvv", "log:1"),
        ("cvv", "log:2"),
        ("cvv", "log:3"),
        ("credential-field", "log:4"),
        ("credential-field", "log:5"),
        ("bearer", "log:6"),
        ("oauth-token", "log:7"),
    ]
    assert_nothing_leaks(findings, PASSWORD, "abcdEFGH1234", "abc123def456ghi789", TOKEN, TOKEN[-64:])
    assert summarize(findings)["cvv"] == 3


def test_known_secrets_found_raw_and_encoded_never_echoed() -> None:
    text = f"login ok pw={PASSWORD.replace('!', '%21')}\nintegrator {INTEGRATOR} sent\nnothing here"
    findings = scan_text(text, secrets=[PASSWORD, INTEGRATOR, "", None, "ab"])
    secret_hits = [f for f in findings if f.kind == "secret"]
    assert [f.location for f in secret_hits] == ["<text>:1", "<text>:2"]
    assert_nothing_leaks(findings, PASSWORD, PASSWORD.replace("!", "%21"), INTEGRATOR)


def test_two_findings_on_one_line_are_both_masked_in_each_excerpt() -> None:
    line = f"pan {PAN} and pw {PASSWORD}"
    findings = scan_text(line, secrets=[PASSWORD])
    assert sorted(kinds(findings)) == ["pan", "secret"]
    assert_nothing_leaks(findings, PAN, PASSWORD)


def test_sandbox_export_records_are_clean() -> None:
    """Our own data -- include_bin masks, 8–9 digit ids, timestamps, amounts -- gives no false positive."""
    sim = MerchantSimulation(MerchantConfig(seed=3, start=dt.date(2025, 4, 1), days=3, tx_per_day=150))
    lines = []
    for day in range(3):
        for row in sim.rows_for_day(dt.date(2025, 4, 1) + dt.timedelta(days=day), include_bin=True):
            lines.append(json.dumps(row.to_dict()))
    assert len(lines) > 300
    assert scan_text("\n".join(lines), secrets=["sandbox-password", "SANDBOXINT01"]) == []


def test_scan_paths_walks_directories_and_reads_binary_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "clean.jsonl").write_text('{"masked": "************1111"}\n')
    (tmp_path / "a" / "b" / "leak.log").write_text(f"line one\nline two {PAN}\n")
    (tmp_path / "a" / "blob.db").write_bytes(b"\x00\xff\x10SQLite" + PASSWORD.encode() + b"\x00\x01")
    findings = scan_paths([tmp_path], secrets=[PASSWORD])
    assert sorted((Path(f.location.rsplit(":", 1)[0]).name, f.kind) for f in findings) == [
        ("blob.db", "secret"),
        ("leak.log", "pan"),
    ]
    assert any(f.location.endswith("leak.log:2") for f in findings)
    with pytest.raises(FileNotFoundError):
        scan_paths([tmp_path / "missing"])


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root."""

    cli_security.register(app)
    return app


def test_cli_exit_status_and_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYTRACE_PASSWORD", "PAYTRACE_INTEGRATOR_ID", "PAYTRACE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", raising=False)
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "x.log").write_text("ok ************1111\n")
    runner = CliRunner()
    result = runner.invoke(_app(), ["pci-scan", str(clean)])
    assert result.exit_code == 0, result.output
    assert "clean" in result.output

    monkeypatch.setenv("PAYTRACE_PASSWORD", PASSWORD)
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    (clean / "y.log").write_text(f"retry with {PASSWORD}\n")
    result = runner.invoke(_app(), ["pci-scan", str(clean), "--secret-env", "MY_TOKEN"])
    assert result.exit_code == 1
    assert "y.log:1: secret" in result.output
    assert PASSWORD not in result.output

    result = runner.invoke(_app(), ["pci-scan", str(clean), "--secret-env", "UNSET_VAR_XYZ"])
    assert result.exit_code == 2
    result = runner.invoke(_app(), ["pci-scan"])
    assert result.exit_code == 2


def test_cli_reads_the_paytrace_connection_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "paytrace", "password": PASSWORD, "extra": {"integrator_id": INTEGRATOR}}
    monkeypatch.setenv("AIRFLOW_CONN_PAYTRACE_DEFAULT", json.dumps(conn))
    assert {PASSWORD, INTEGRATOR} <= set(cli_security.known_secrets([]))


def test_binary_files_find_free_standing_cards_but_not_packed_fields(tmp_path: Path) -> None:
    """In a binary file (a SQLite page) fields are packed: digits glued to letters are not a card."""
    packed = b"\x00\x03CUST00012PA4111111111111111Q!\x00"
    free = b"\x00\x01" + PAN.encode() + b"\x00\xff"
    (tmp_path / "packed.db").write_bytes(packed)
    (tmp_path / "free.db").write_bytes(free)
    findings = scan_paths([tmp_path])
    assert [(Path(f.location.rsplit(":", 1)[0]).name, f.kind) for f in findings] == [("free.db", "pan")]
    # the same packed text in a text file is a finding: text files get no such allowance
    assert kinds(scan_text("CUST00012PA4111111111111111Q!")) == ["pan"]


def test_an_unchanged_copy_of_a_shipped_asset_is_passed_over_and_a_changed_one_is_scanned(
    tmp_path: Path,
) -> None:
    from importlib import resources

    from paytrace_sl.pci_scan import shipped_asset_digests

    css = (
        resources.files("paytrace_sl.pipeline") / "data_docs_assets" / "bootstrap" / "bootstrap.min.css"
    ).read_bytes()
    # the published file really holds a Luhn-valid digit run (an SVG path): scanned as text it is a finding
    assert any(f.kind == "pan" for f in scan_text(css.decode("utf-8"), location="bootstrap.min.css"))
    assert shipped_asset_digests()  # the vendored Data Docs assets are found in the installed package
    copy = tmp_path / "site" / "static" / "vendor" / "bootstrap.min.css"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(css)
    assert scan_paths([tmp_path]) == []
    copy.write_bytes(css + b"\n/* 4111 1111 1111 1111 */\n")  # one change: an ordinary file again
    assert [f.kind for f in scan_paths([tmp_path])].count("pan") >= 2
