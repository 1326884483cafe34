"""Observability: metrics/health endpoints of the long-running processes, and ``status``."""
