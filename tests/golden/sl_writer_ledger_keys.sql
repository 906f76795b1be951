SELECT xPTLedger.ledger_key, xPTLedger.status 
FROM xPTLedger 
WHERE xPTLedger.ledger_key IN (?)
