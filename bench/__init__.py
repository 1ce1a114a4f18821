"""Benchmark of Support Bridge against the plainest botbuilder bot (``python -m bench``).

The stock echo bot is the yardstick: whatever the SDK costs per turn, the bridge pays too, so
the ratio bridge/echo on the same machine says what the bridge's own work (database, outbox,
cards) costs, independent of how fast the machine is.
"""
