"""Anomaly and fraud alerts (issue 16 §1): explicit rules for known patterns plus an IsolationForest fitted
on the merchant's own recent history. See docs/fraud.md.

Modules: :mod:`.config` (patterns, settings from ``mapping.yaml``), :mod:`.features` (the scored frame and
its context features), :mod:`.rules` (the named patterns, each with a reason a person understands),
:mod:`.model` (the unsupervised model, persisted and versioned), :mod:`.store` (our ``xPTFraud*`` tables),
:mod:`.alerts` (notifications with a threshold per channel) and :mod:`.score` (one window, end to end).
Importing this package is cheap: scikit-learn is imported only when a model is fitted or used.
"""
