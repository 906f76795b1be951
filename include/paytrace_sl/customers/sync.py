"""Vault profiles → ``xPTVaultProfile``, each linked to an SL customer (or waiting with a suggestion).

Order of a link: the profile's existing link (manual, created, or an earlier auto-link) is kept; else
exact CustId, else the cross-reference table, else assisted matching (:mod:`.suggest`): auto-linked
above the threshold (the link also becomes an ``xPTCustXref`` row, source ``auto-match``, so payments
by that vault customer find their SL customer), a suggestion with its score and agreeing fields below
it, nothing under the suggestion threshold. With ``create_missing`` a profile with neither a match nor
a suggestion gets its SL customer created (:mod:`.create`). Profiles gone from the export are marked
inactive, never deleted. Unparseable profiles are dead letters naming the profile and the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from paytrace_sl.customers.create import CreatePreflightError, create_customer
from paytrace_sl.customers.profiles import ProfileError, VaultProfile, parse_profile
from paytrace_sl.customers.suggest import FuzzySuggester, build_suggester
from paytrace_sl.customers.xref import remember_xref
from paytrace_sl.pipeline.dead_letters import DeadLetter, record_digest
from paytrace_sl.sl.own_tables import utcnow, xPTCustXref, xPTVaultProfile
from paytrace_sl.suggestion import PayerFacts, Suggestion

KEPT_LINKS = ("manual", "created", "exact", "xref", "fuzzy")
SOURCE = "paytrace-customer"


@dataclass(frozen=True, slots=True)
class SyncOptions:
    auto_link_threshold: float = 0.9
    suggest_threshold: float = 0.55
    create_missing: bool = False
    customer_class: str = ""
    user: str = "PAYTRACE"
    program: str = "PTSL"
    timezone: str = "UTC"  # the merchant's: SL's wall-clock dates of a created customer

    @classmethod
    def from_mapping(
        cls, mapping: Any, *, user: str = "PAYTRACE", program: str = "PTSL", timezone: str = "UTC"
    ) -> SyncOptions:
        c = mapping.customers
        return cls(
            auto_link_threshold=c.auto_link_threshold,
            suggest_threshold=c.suggest_threshold,
            create_missing=c.create_missing,
            customer_class=c.customer_class,
            user=user,
            program=program,
            timezone=timezone,
        )


@dataclass
class SyncResult:
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deactivated: int = 0
    linked: dict[str, int] = field(default_factory=dict)  # link source → profiles newly linked
    suggested: int = 0
    unmatched: int = 0
    created: list[str] = field(default_factory=list)
    not_created: list[str] = field(default_factory=list)  # preflight reasons
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
            "linked": dict(sorted(self.linked.items())),
            "suggested": self.suggested,
            "unmatched": self.unmatched,
            "created": len(self.created),
            "not_created": len(self.not_created),
            "dead_lettered": len(self.dead_letters),
        }


def payer_facts(profile: VaultProfile) -> PayerFacts:
    return PayerFacts(
        paytrace_customer_id=profile.customer_id,
        name=profile.name or None,
        email=profile.email or None,
        phone=profile.phone or None,
        postal_code=profile.postal_code or None,
        address=profile.address or None,
    )


def parse_all(
    raw_rows: Iterable[Any], result: SyncResult | None = None
) -> tuple[list[VaultProfile], SyncResult]:
    """Parsed profiles (the last copy of a repeated id wins) and a result carrying the dead letters."""
    result = result or SyncResult()
    profiles: dict[str, VaultProfile] = {}
    for raw in raw_rows:
        result.fetched += 1
        try:
            profile = parse_profile(raw)
        except ProfileError as exc:
            identity = {"customer_id": exc.customer_id} if exc.customer_id != "<unknown>" else raw
            result.dead_letters.append(
                DeadLetter(
                    transaction_id=None,
                    source=SOURCE,
                    payload={
                        "customer_id": exc.customer_id,
                        "field": exc.field,
                        "record_digest": record_digest(json.dumps(identity, sort_keys=True, default=str)),
                    },
                    reason=f"vault customer {exc.customer_id}: could not parse field {exc.field!r}: "
                    f"{exc.reason}",
                    failed_checks=(f"parse:{exc.field}",),
                )
            )
            continue
        profiles[profile.customer_id] = profile
    return list(profiles.values()), result


def _profile_values(p: VaultProfile) -> dict[str, Any]:
    return {
        "name": p.name,
        "street": p.street,
        "street2": p.street2,
        "city": p.city,
        "state": p.state,
        "postal_code": p.postal_code,
        "country": p.country,
        "email": p.email,
        "phone": p.phone,
        "masked_card": p.masked_card,
        "exp_month": p.exp_month,
        "exp_year": p.exp_year,
        "content_hash": p.content_hash(),
    }


def _link_values(best: Suggestion | None) -> dict[str, Any]:
    if best is None:
        return {
            "cust_id": None,
            "link_source": None,
            "suggested_cust_id": None,
            "score": None,
            "agreed": None,
        }
    agreed = ",".join(best.agreed)[:100] or None
    if best.auto_link:
        return {
            "cust_id": best.cust_id,
            "link_source": best.source,
            "suggested_cust_id": None,
            "score": best.score,
            "agreed": agreed,
        }
    return {
        "cust_id": None,
        "link_source": None,
        "suggested_cust_id": best.cust_id,
        "score": best.score,
        "agreed": agreed,
    }


def sync_profiles(
    engine: sa.Engine,
    profiles: Iterable[VaultProfile],
    options: SyncOptions,
    *,
    run_id: str | None = None,
    complete: bool = True,
    suggester: FuzzySuggester | None = None,
    now: dt.datetime | None = None,
    result: SyncResult | None = None,
) -> SyncResult:
    """Store, link and (optionally) create; returns the counts. Idempotent for the same export.

    ``complete``: the profiles are the whole vault (every record parsed), so a stored profile missing
    from them is marked inactive; a partial export never deactivates anyone.
    """
    now = now or utcnow()
    result = result or SyncResult()
    profiles = list(profiles)
    suggester = suggester or build_suggester(
        engine,
        auto_link_threshold=options.auto_link_threshold,
        suggest_threshold=options.suggest_threshold,
    )
    t = xPTVaultProfile.c
    with engine.begin() as conn:
        existing: dict[str, Mapping[str, Any]] = {
            str(r.paytrace_customer_id): dict(r._mapping) for r in conn.execute(sa.select(xPTVaultProfile))
        }
        known_xref = {str(pid) for (pid,) in conn.execute(sa.select(xPTCustXref.c.paytrace_customer_id))}
        to_create: list[VaultProfile] = []
        inserts: list[dict[str, Any]] = []
        for p in profiles:
            values = _profile_values(p)
            old = existing.get(p.customer_id)
            keep = old is not None and old["cust_id"] and old["link_source"] in KEPT_LINKS
            link: dict[str, Any] = {}
            if not keep:
                best = next(iter(suggester.suggest(payer_facts(p), limit=2)), None)
                link = _link_values(best)
                if link["cust_id"]:
                    result.linked[link["link_source"]] = result.linked.get(link["link_source"], 0) + 1
                    if link["link_source"] == "fuzzy" and p.customer_id not in known_xref:
                        conn.execute(
                            sa.insert(xPTCustXref).values(
                                paytrace_customer_id=p.customer_id,
                                cust_id=link["cust_id"],
                                source="auto-match",
                                active=1,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                        known_xref.add(p.customer_id)
                elif link["suggested_cust_id"]:
                    result.suggested += 1
                else:
                    result.unmatched += 1
                    if options.create_missing:
                        to_create.append(p)
            if old is None:
                inserts.append(
                    {
                        "paytrace_customer_id": p.customer_id,
                        **values,
                        **link,
                        "active": 1,
                        "run_id": run_id,
                        "first_seen_at": now,
                        "updated_at": now,
                    }
                )
                result.new += 1
                continue
            changed = old["content_hash"] != values["content_hash"] or not old["active"]
            relinked = any(old[k] != v for k, v in link.items() if k != "score")
            if changed or relinked:
                conn.execute(
                    sa.update(xPTVaultProfile)
                    .where(t.paytrace_customer_id == p.customer_id)
                    .values(**values, **link, active=1, run_id=run_id, updated_at=now)
                )
                result.changed += int(changed)
                result.unchanged += int(not changed)
            else:
                result.unchanged += 1
        for start in range(0, len(inserts), 1000):  # one round trip per thousand new profiles
            conn.execute(sa.insert(xPTVaultProfile), inserts[start : start + 1000])
        seen = {p.customer_id for p in profiles}
        gone = [pid for pid, row in existing.items() if pid not in seen and row["active"]]
        if gone and complete:
            conn.execute(
                sa.update(xPTVaultProfile)
                .where(t.paytrace_customer_id.in_(gone))
                .values(active=0, updated_at=now, run_id=run_id)
            )
            result.deactivated = len(gone)
    for p in to_create:
        try:
            with engine.begin() as conn:
                create_customer(
                    conn,
                    p,
                    options.customer_class,
                    now=now,
                    user=options.user,
                    program=options.program,
                    run_id=run_id,
                    zone=ZoneInfo(options.timezone),
                )
            result.created.append(p.customer_id)
        except CreatePreflightError as exc:
            result.not_created.append(str(exc))
        except sa.exc.IntegrityError:
            # a concurrent run created it first: the primary key kept it to one customer
            result.not_created.append(f"vault customer {p.customer_id}: created by another run")
    return result


def link_manually(
    engine: sa.Engine, paytrace_customer_id: str, cust_id: str, *, now: dt.datetime | None = None
) -> None:
    """A person's decision (workbench or CLI): the profile belongs to ``cust_id``; also the xref row."""
    from paytrace_sl.sl import catalog

    now = now or utcnow()
    with engine.begin() as conn:
        c = catalog.Customer.c
        if conn.execute(sa.select(c.CustId).where(c.CustId == cust_id)).first() is None:
            raise LinkError(f"SL customer {cust_id} does not exist")
        t = xPTVaultProfile.c
        done = conn.execute(
            sa.update(xPTVaultProfile)
            .where(t.paytrace_customer_id == paytrace_customer_id)
            .values(cust_id=cust_id, link_source="manual", suggested_cust_id=None, updated_at=now)
        )
        if done.rowcount == 0:
            raise LinkError(f"no vault profile {paytrace_customer_id}; run paytrace-sl customers sync first")
        remember_xref(conn, paytrace_customer_id, cust_id, source="manual", now=now)


class LinkError(CreatePreflightError):
    """A manual link names a profile or SL customer that does not exist."""
