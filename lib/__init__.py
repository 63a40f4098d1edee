"""Shared plumbing: configuration, database, security, errors, HTTP helpers."""
