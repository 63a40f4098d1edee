"""What the payment simulator keeps, in a SQLite file of its own so that every
server process sees the same sessions: sessions, the answers given under
idempotency keys, and the events sent (or waiting) to the webhook."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class SimBase(DeclarativeBase):
    metadata = MetaData()


class SimSession(SimBase):
    __tablename__ = "sim_sessions"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    settle_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    settle_outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)


class SimIdempotency(SimBase):
    __tablename__ = "sim_idempotency"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class SimEvent(SimBase):
    __tablename__ = "sim_events"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(Integer)
    delivered_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
