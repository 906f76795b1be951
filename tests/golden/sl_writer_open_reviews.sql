SELECT xPTReview.ledger_key 
FROM xPTReview 
WHERE xPTReview.ledger_key IN (?) AND xPTReview.reason_code = ? AND xPTReview.resolved_at IS NULL
