"""The review workbench: list, show, resolve and dismiss xPTReview items (CLI and Airflow page alike).

* :mod:`.store` reads the queue and closes items (who, when, how, why);
* :mod:`.suggest` ranks SL customers for a payer (the customers matcher, :func:`.suggest.default_suggester`);
* :mod:`.resolve` re-processes one PayTrace transaction with a person's customer/invoice choice through
  the normal pipeline path (ledger, preflight, exactly once) and closes its items;
* :mod:`.overrides` carries that choice into the transform step for that one transaction.
"""
