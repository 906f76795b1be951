INSERT INTO xPTReview (transaction_id, ledger_key, reason_code, reason, details, run_id, created_at, resolved_at, resolution, resolved_by) OUTPUT inserted.id VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
