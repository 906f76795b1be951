"""PayTrace vault profiles linked to SL customers: parse, match, create, expiring cards.

See docs/customers.md.
"""
