"""Persistence: models, engine and the atomic state transitions of chats.

:class:`Store` gathers the transitions, one mixin per concern, over one core.
"""

from store.chats import ChatLifecycle
from store.departments import DepartmentSettings
from store.presence import PresenceSync
from store.rooms import Rooms
from store.routing import Routing
from store.team import TeamMoves
from store.tools import Tools
from store.trust import Trust


class Store(
    ChatLifecycle, Rooms, Routing, TeamMoves, Tools, Trust, PresenceSync, DepartmentSettings
):
    """Every named transition of the bridge over one session factory and one clock."""


__all__ = ["Store"]
