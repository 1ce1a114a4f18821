"""Persistence: models, engine and the atomic state transitions of chats.

:class:`Store` gathers the transitions, one mixin per concern, over one core.
"""

from store.chats import ChatLifecycle
from store.console import Console
from store.console_settings import ConsoleSettings
from store.departments import DepartmentSettings
from store.dispatch import Dispatch
from store.front import FrontDoor
from store.history import History
from store.presence import PresenceSync
from store.ratings import Ratings
from store.reports import Reports
from store.rooms import Rooms
from store.routing import Routing
from store.team import TeamMoves
from store.tools import Tools
from store.trust import Trust


class Store(
    ChatLifecycle,
    Console,
    ConsoleSettings,
    DepartmentSettings,
    Dispatch,
    FrontDoor,
    History,
    PresenceSync,
    Ratings,
    Reports,
    Rooms,
    Routing,
    TeamMoves,
    Tools,
    Trust,
):
    """Every named transition of the bridge over one session factory and one clock."""


__all__ = ["Store"]
