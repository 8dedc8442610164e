"""stackcheck: a pytest conformance suite for a small OpenStack + Galera lab (checks, safe fixes, honest reports)."""
