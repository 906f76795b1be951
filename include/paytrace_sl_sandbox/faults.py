"""Fault injection for the sandbox: the failures a production PayTrace client must survive.

PayTrace documents no rate limit, no 5xx behaviour and no Retry-After (reference §7.1), so these are
the generic failures of any HTTP API. Decisions are deterministic (a seeded RNG) so a test that injects
"30% of requests fail" sees the same requests fail on every run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

FaultMode = Literal[
    "none", "http_429", "http_500", "http_503", "slow", "truncated_json", "invalid_json", "token_expiry"
]
FAULT_MODES: tuple[str, ...] = (
    "none",
    "http_429",
    "http_500",
    "http_503",
    "slow",
    "truncated_json",
    "invalid_json",
    "token_expiry",
)


@dataclass
class FaultConfig:
    """What to break. ``rate`` and ``count`` limit how often; ``paths`` limits where."""

    mode: FaultMode = "none"
    rate: float = 1.0  # fraction of eligible requests that fail (deterministic RNG)
    count: int | None = None  # stop after this many injected faults
    retry_after: float | None = 1  # Retry-After header (seconds) on 429/503; None = no header
    delay: float = 5.0  # "slow": seconds to sleep before answering
    expire_after_calls: int | None = None  # "token_expiry": a token dies after N API calls
    paths: list[str] | None = (
        None  # only these request paths (e.g. ["/v1/transactions/export/by_date_range"])
    )
    seed: int = 0  # RNG seed for ``rate``

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; expected one of {', '.join(FAULT_MODES)}")
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {self.rate!r}")
        if self.count is not None and int(self.count) < 0:
            raise ValueError("fault count must be >= 0")
        if self.mode == "token_expiry" and self.expire_after_calls is None:
            self.expire_after_calls = 1

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from the admin endpoint's JSON body; unknown keys are an error (typos must not pass)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown FaultConfig field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultInjector:
    """Thread-safe decision maker: ``should_fail(path)`` says whether this request gets the fault."""

    config: FaultConfig = field(default_factory=FaultConfig)
    injected: int = 0
    injected_by_mode: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._injected_since_set = 0  # what ``count`` limits: faults under the current config

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._injected_since_set = 0

    def eligible(self, path: str) -> bool:
        """Admin paths never fault; /oauth/token only when listed in ``paths``."""
        cfg = self.config
        if cfg.mode == "none" or path.startswith("/_sandbox/"):
            return False
        if cfg.paths is not None:
            return path in cfg.paths
        return path != "/oauth/token"

    def should_fail(self, path: str) -> bool:
        """Roll the dice for a request-level fault (every mode except token_expiry)."""
        with self._lock:
            cfg = self.config
            if cfg.mode == "token_expiry" or not self.eligible(path):
                return False
            if cfg.count is not None and self._injected_since_set >= cfg.count:
                return False
            if cfg.rate < 1.0 and self._rng.random() >= cfg.rate:
                return False
            self._record(cfg.mode)
            return True

    def token_should_expire(self, path: str, calls_with_token: int) -> bool:
        """token_expiry: a token used for more than ``expire_after_calls`` API calls is dead."""
        with self._lock:
            cfg = self.config
            if cfg.mode != "token_expiry" or not self.eligible(path) or cfg.expire_after_calls is None:
                return False
            if cfg.count is not None and self._injected_since_set >= cfg.count:
                return False
            if calls_with_token <= cfg.expire_after_calls:
                return False
            self._record(cfg.mode)
            return True

    def _record(self, mode: str) -> None:
        self.injected += 1
        self._injected_since_set += 1
        self.injected_by_mode[mode] = self.injected_by_mode.get(mode, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self._rng = random.Random(0)
            self._injected_since_set = 0
            self.injected = 0
            self.injected_by_mode = {}
