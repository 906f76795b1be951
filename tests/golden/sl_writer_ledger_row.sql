SELECT xPTLedger.id, xPTLedger.ledger_key, xPTLedger.transaction_id, xPTLedger.kind, xPTLedger.cpny_id, xPTLedger.module, xPTLedger.bat_nbr, xPTLedger.doc_type, xPTLedger.ref_nbr, xPTLedger.cust_id, xPTLedger.amount, xPTLedger.cury_id, xPTLedger.per_post, xPTLedger.paytrace_state, xPTLedger.content_hash, xPTLedger.status, xPTLedger.run_id, xPTLedger.posted_at, xPTLedger.updated_at, xPTLedger.note, xPTLedger.settle_batch_nbr, xPTLedger.posted_txn_id, xPTLedger.paytrace_type, xPTLedger.customer_digest 
FROM xPTLedger 
WHERE xPTLedger.ledger_key = ?
