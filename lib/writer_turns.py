"""SQLite's writers of one process take turns on an asyncio lock.

SQLite lets one transaction write at a time. A second `BEGIN IMMEDIATE`
waits in SQLite's busy handler, which sleeps and tries again at growing
intervals (100 ms a step after the first quarter second): in a rush of
writers inside one process, most of their time was spent asleep while the
lock stood free, and the last in line waited for seconds.

So a process's writers first queue on a lock of its own, first come first
served, handed on the moment a COMMIT or ROLLBACK ends; only writers of
other processes still meet the busy handler. The lock decides nothing about
correctness (SQLite's own lock does): it only orders the waiting. It is
taken by the engine's `begin` (inside SQLAlchemy's greenlet, so it can be
awaited there) and given back when the transaction ends, or at the latest
when its connection returns to the pool or is thrown away.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_only

HELD = "portal_writer_turn"


class WriterTurns:
    """One lock per event loop (a Lambda instance may run each invocation on
    a loop of its own), for the connections of one engine."""

    def __init__(self) -> None:
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )

    def take(self, info: dict[str, Any]) -> None:
        """Wait for this process's turn to write (from the engine's `begin`)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        await_only(lock.acquire())
        info[HELD] = lock

    @staticmethod
    def give_back(info: dict[str, Any]) -> None:
        """End this connection's turn, if it has one (never twice)."""
        lock = info.pop(HELD, None)
        if lock is not None:
            lock.release()

    @classmethod
    def end(cls, connection: Any) -> None:
        """End the turn of a pooled connection (from COMMIT or ROLLBACK). The
        dialect also rolls back the bare connection it inspects when it first
        connects: that one has no info of its own and never had a turn."""
        try:
            info = connection.info
        except NotImplementedError:
            return
        cls.give_back(info)

    def watch(self, engine: Engine) -> None:
        """A turn that outlives its transaction (a connection invalidated or
        returned mid-transaction) ends with the connection's trip back."""

        def returned(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
            self.give_back(record.info)

        event.listen(engine, "checkin", returned)
        event.listen(engine, "invalidate", returned)
        event.listen(engine, "soft_invalidate", returned)
