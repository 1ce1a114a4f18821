"""Adaptive Card builders (pure functions returning dicts, schema version 1.5)."""
