"""Coordination between nodes over Redis (leadership lease with fencing, ...)."""
