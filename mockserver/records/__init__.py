"""Stored SEVIS records: applying update events (events, amend, lifecycle) and reading them (queries, api)."""
