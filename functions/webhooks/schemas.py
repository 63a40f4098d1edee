from __future__ import annotations

from pydantic import BaseModel


class Received(BaseModel):
    received: bool = True
    outcome: str
