"""Conversational flows: customer intake, agent commands and card actions, room setup."""
