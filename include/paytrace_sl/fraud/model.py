"""The unsupervised layer: scikit-learn's IsolationForest fitted on the merchant's own recent history.

Persisted without pickles: a model version is its training sample (features only, no ids or card data),
its parameters and seed; loading refits deterministically from them (a few tens of milliseconds), so the
database never holds executable bytes and a version can be re-created and inspected anywhere. The
training sample rolls: each refit keeps half of the previous sample and fills the rest with the newest
rows the rules did not flag.

IsolationForest ranks; it does not extrapolate (a row beyond every training value is isolated no faster
than the training's own extremes), so a model alert needs both: an anomaly score above the training
sample's ``model_quantile`` and one feature beyond all but ``model_max_tail`` of the training sample.

An alert's *reasons* are the features that drove it: its rarest features against the training sample
(the share of the history as far out), each with the row's value and the typical (median) one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paytrace_sl.fraud.features import MODEL_FEATURES

ALGORITHM = "isolation_forest"
N_ESTIMATORS = 64
MAX_SAMPLES = 256
DRIVERS = 3  # features reported per alert


@dataclass(frozen=True)
class FittedModel:
    """One model version: its sample, parameters, the fitted forest and the alert threshold."""

    version: int
    sample: np.ndarray  # (n, len(MODEL_FEATURES))
    threshold: float  # anomaly score above which a row is an alert
    top: float  # the largest training score (scales the alert score)
    median: np.ndarray
    spread: np.ndarray
    data_through: dt.datetime
    forest: Any
    quantile: float
    sorted: np.ndarray  # the sample, each column sorted (empirical tails)

    @property
    def params(self) -> dict[str, Any]:
        import sklearn

        return {
            "library": f"scikit-learn {sklearn.__version__}",
            "n_estimators": N_ESTIMATORS,
            "max_samples": MAX_SAMPLES,
            "random_state": self.version,
            "quantile": self.quantile,
            "threshold": self.threshold,
        }

    def anomaly(self, features: pd.DataFrame) -> np.ndarray:
        """Higher = more anomalous (``-score_samples``), comparable with :attr:`threshold`."""
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(-self.forest.score_samples(_matrix(features)), dtype=np.float64)

    def alert_score(self, anomaly: np.ndarray) -> np.ndarray:
        """0..1: 0.5 at the threshold, towards 1 beyond the most anomalous training row."""
        width = max(self.top - self.threshold, 1e-6)
        return np.clip(0.5 + 0.5 * (anomaly - self.threshold) / (2 * width), 0.0, 0.99)

    def tails(self, matrix: np.ndarray) -> np.ndarray:
        """Per row and feature: the share of the training sample at least as far out on the same side
        (two-sided empirical tail; 1/n when beyond every training value)."""
        matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
        n = len(self.sorted)
        out = np.empty_like(matrix)
        for j in range(matrix.shape[1]):
            col = self.sorted[:, j]
            high = n - np.searchsorted(col, matrix[:, j], side="left")
            low = np.searchsorted(col, matrix[:, j], side="right")
            out[:, j] = np.maximum(np.minimum(high, low), 1) / n
        return out

    def min_tail(self, features: pd.DataFrame) -> np.ndarray:
        """Per row, the rarest feature's tail share (small = outside what the history holds)."""
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(self.tails(_matrix(features)).min(axis=1), dtype=np.float64)

    def drivers(self, row: np.ndarray) -> dict[str, dict[str, float]]:
        """The rarest features of ``row`` against the training sample, with value and typical value."""
        tail = self.tails(row)[0]
        z = np.abs(row - self.median) / self.spread
        top = np.lexsort((-z, tail))[:DRIVERS]
        return {
            MODEL_FEATURES[i]: {
                "value": round(float(row[i]), 4),
                "typical": round(float(self.median[i]), 4),
                "tail": round(float(tail[i]), 5),
            }
            for i in top
        }


def _matrix(features: pd.DataFrame) -> np.ndarray:
    return features[list(MODEL_FEATURES)].to_numpy(dtype=np.float64)


def fit(sample: np.ndarray, version: int, quantile: float, data_through: dt.datetime) -> FittedModel:
    """Fit (or re-create) model ``version`` from ``sample``; deterministic for a given sample and version."""
    from sklearn.ensemble import IsolationForest

    sample = np.asarray(sample, dtype=np.float64).reshape(-1, len(MODEL_FEATURES))
    forest = IsolationForest(
        n_estimators=N_ESTIMATORS,
        max_samples=min(MAX_SAMPLES, max(len(sample), 1)),
        random_state=version,
        n_jobs=1,
    )
    forest.fit(sample)
    train = -forest.score_samples(sample)
    median = np.median(sample, axis=0)
    q75, q25 = np.percentile(sample, [75, 25], axis=0)
    spread = q75 - q25
    std = sample.std(axis=0)
    spread = np.where(spread > 0, spread, np.where(std > 0, std, 1.0))
    return FittedModel(
        version=version,
        sample=sample,
        threshold=float(np.quantile(train, quantile)),
        top=float(train.max()),
        median=median,
        spread=spread,
        data_through=data_through,
        forest=forest,
        quantile=quantile,
        sorted=np.sort(sample, axis=0),
    )


def roll_sample(old: np.ndarray | None, new_rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """The next training sample: half from the previous one, the rest from the newest clean rows."""
    rng = np.random.default_rng(seed)
    new_rows = np.asarray(new_rows, dtype=np.float64).reshape(-1, len(MODEL_FEATURES))
    keep_old = 0 if old is None or len(old) == 0 else min(len(old), size // 2)
    take_new = min(len(new_rows), size - keep_old)
    if old is not None and len(old) and take_new < size - keep_old:  # few new rows: keep more old ones
        keep_old = min(len(old), size - take_new)
    parts = []
    if keep_old:
        assert old is not None
        parts.append(old[rng.choice(len(old), keep_old, replace=False)])
    if take_new:
        parts.append(new_rows[rng.choice(len(new_rows), take_new, replace=False)])
    if not parts:
        return np.zeros((0, len(MODEL_FEATURES)))
    return np.vstack(parts)
