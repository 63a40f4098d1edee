"""Collects the scheduled jobs declared beside each capability and runs them."""
