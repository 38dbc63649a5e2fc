"""Records (SQL) and, later, live-state adapters."""
