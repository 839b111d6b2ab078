"""Broadcasts: a user's contacts (not a session's), message templates and
campaigns that send a template to contacts through the core's durable send
queue, paced per session, and track each recipient's message status.
See ``docs/broadcasts.md``."""
