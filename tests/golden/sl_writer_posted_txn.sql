SELECT xPTLedger.posted_txn_id, xPTLedger.ledger_key, xPTLedger.kind 
FROM xPTLedger 
WHERE xPTLedger.posted_txn_id IN (?)
