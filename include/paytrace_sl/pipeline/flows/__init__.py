"""The pipeline's flows: each step a function of a :class:`~paytrace_sl.pipeline.context.RunContext`
returning its summary (:mod:`~paytrace_sl.pipeline.summaries`).

:mod:`.payments` (``paytrace_payments_to_sl``), :mod:`.settlements` (``paytrace_settlements_to_sl``),
:mod:`.replay` (``paytrace_sl_replay``), :mod:`.run` (all steps of a window in one process).
"""
