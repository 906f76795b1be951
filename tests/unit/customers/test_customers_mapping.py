"""The ``customers:`` keys of vault profiles in mapping.yaml: defaults and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from paytrace_sl.customers.sync import SyncOptions
from paytrace_sl.pipeline.mapping import ConfigFileError, load_mapping
from paytrace_sl.pipeline.runner import DEFAULT_MAPPING

SHIPPED = DEFAULT_MAPPING.read_text()


def test_shipped_defaults() -> None:
    c = load_mapping().customers
    assert (c.create_missing, c.customer_class, c.expiring_days) == (False, "", 30)
    assert (c.auto_link_threshold, c.suggest_threshold) == (0.9, 0.55)
    options = SyncOptions.from_mapping(load_mapping())
    assert options.auto_link_threshold == 0.9 and not options.create_missing


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("  create_missing: false", "  create_missing: true", "required when create_missing"),
        ("  create_missing: false", "  create_missing: yes please", "true or false"),
        ('  customer_class: ""', '  customer_class: "TOOLONGCLASS"', "longer than 6"),
        ("  suggest_threshold: 0.55", "  suggest_threshold: 0.95", "must be <= auto_link_threshold"),
        ("  auto_link_threshold: 0.9", "  auto_link_threshold: 1.5", "must be <= 1"),
        ("  expiring_days: 30", "  expiring_days: 0", "must be >= 1"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, old: str, new: str, reason: str) -> None:
    assert old in SHIPPED
    path = tmp_path / "mapping.yaml"
    path.write_text(SHIPPED.replace(old, new, 1))
    with pytest.raises(ConfigFileError) as info:
        load_mapping(path)
    assert reason in info.value.reason


def test_create_missing_with_a_class_loads(tmp_path: Path) -> None:
    text = SHIPPED.replace("  create_missing: false", "  create_missing: true").replace(
        '  customer_class: ""', '  customer_class: "RETAIL"'
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    c = load_mapping(path).customers
    assert c.create_missing and c.customer_class == "RETAIL"
