"""Payments plumbing: the Stripe gateway, webhook signatures, the local simulator."""
