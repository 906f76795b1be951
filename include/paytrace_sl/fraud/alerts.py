"""Fraud alerts through the existing notifiers (:mod:`paytrace_sl.pipeline.notify`), a threshold per channel.

Each configured channel (``PAYTRACE_SL_NOTIFY``) gets the window's *new* alerts whose score is at least
its ``fraud.notify_min_score`` in ``mapping.yaml``; a channel without a threshold gets none. The message
carries transaction ids, patterns, scores and the reasons (which name at most a card's last four digits),
never card data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from paytrace_sl.pipeline.notify import Notification, NotifySettings, notify

MAX_LISTED = 10  # alerts spelled out in one message; the rest are counted


def alert_line(alert: Mapping[str, Any]) -> str:
    reasons = "; ".join(str(r) for r in alert.get("reasons", ()))
    return f"{alert['transaction_id']} [{','.join(alert['patterns'])} {float(alert['score']):.2f}] {reasons}"


def notify_alerts(
    settings: NotifySettings,
    thresholds: Mapping[str, float],
    alerts: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    window: str,
) -> dict[str, str]:
    """Send the alerts each channel's threshold lets through; returns ``{channel: outcome or "none"}``."""
    outcome: dict[str, str] = {}
    for channel in settings.channels:
        minimum = thresholds.get(channel)
        picked = [] if minimum is None else [a for a in alerts if float(a["score"]) >= minimum]
        if not picked:
            outcome[channel] = "none"
            continue
        picked = sorted(picked, key=lambda a: (-float(a["score"]), int(a["transaction_id"])))
        patterns = Counter(p for a in picked for p in a["patterns"])
        lines = [alert_line(a) for a in picked[:MAX_LISTED]]
        if len(picked) > MAX_LISTED:
            lines.append(f"… and {len(picked) - MAX_LISTED} more (xPTFraudAlert, the auditor report)")
        note = Notification(
            kind="fraud",
            title=f"{len(picked)} fraud alert(s)",
            run_id=run_id,
            window=window,
            reason="\n".join(lines),
            counts={"alerts": len(picked), "held": sum(1 for a in picked if a.get("held")), **patterns},
        )
        outcome.update(notify(replace(settings, channels=(channel,)), note))
    return outcome
