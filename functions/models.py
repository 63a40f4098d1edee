"""Imports every table so that one metadata describes the whole schema."""

from functions.auth.models import RefreshToken, User
from lib.db import Base
from lib.throttle import ThrottleHit

metadata = Base.metadata

__all__ = ["RefreshToken", "ThrottleHit", "User", "metadata"]
