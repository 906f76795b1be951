"""PayTrace vault profiles linked to SL customers: parse, match, create, expiring cards (docs/customers.md)."""
