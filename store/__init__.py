"""Persistence: models, engine and the atomic state transitions of chats."""
