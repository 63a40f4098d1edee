from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from functions.webhooks.models import StripeEvent
from lib.db import insert_for, rowcount


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_id: str, event_type: str, *, now: datetime) -> bool:
        """Insert the event if it is new. False: it was recorded before (or a
        concurrent delivery recorded it first and has committed)."""
        statement = (
            insert_for(self.session)(StripeEvent)
            .values(id=event_id, type=event_type, outcome="received", received_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return rowcount(await self.session.execute(statement)) == 1

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        await self.session.execute(
            update(StripeEvent).where(StripeEvent.id == event_id).values(outcome=outcome[:20])
        )
