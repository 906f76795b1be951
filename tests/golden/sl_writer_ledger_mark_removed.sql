UPDATE xPTLedger SET status=?, updated_at=?, note=? WHERE xPTLedger.ledger_key = ? AND xPTLedger.status = ?
