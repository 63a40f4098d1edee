"""Stripe's signed events, recorded by id and applied once."""
