"""Persistence: models, engine and the atomic state transitions of chats.

:class:`Store` gathers the transitions not yet written as functions per aggregate, one
mixin per concern, over one core; the converted aggregates (routing, availability,
presence, rooms, departments, ratings, console) are modules of functions taking a unit.
"""

from store.console_settings import ConsoleSettings
from store.dispatch import Dispatch
from store.front import FrontDoor
from store.history import History
from store.reports import Reports
from store.trust import Trust


class Store(
    ConsoleSettings,
    Dispatch,
    FrontDoor,
    History,
    Reports,
    Trust,
):
    """Every named transition of the bridge over one session factory and one clock."""


__all__ = ["Store"]
