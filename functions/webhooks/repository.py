from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from functions.webhooks.models import StripeEvent


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_id: str, event_type: str, *, now: datetime) -> bool:
        """Insert the event if it is new. False: it was recorded before (or a
        concurrent delivery recorded it first and has committed)."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(StripeEvent)
            .values(id=event_id, type=event_type, outcome="received", received_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        result = await self.session.execute(statement)
        assert isinstance(result, CursorResult)
        return int(result.rowcount) == 1

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        await self.session.execute(
            update(StripeEvent).where(StripeEvent.id == event_id).values(outcome=outcome[:20])
        )
