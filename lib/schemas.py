"""Shapes every capability's requests and responses share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A JSON request body: strict types, and no field we do not know."""

    model_config = ConfigDict(extra="forbid", strict=True)


class MoneyOut(BaseModel):
    """An amount in minor units with its ISO currency; the currency is null only
    where there is no single one (an empty cart's total)."""

    amount: int
    currency: str | None
