"""The ``whatsmeow`` engine: real WhatsApp accounts through neonize (Go's whatsmeow).

Import :mod:`wagate.engines.whatsmeow.engine`; nothing here imports neonize.
See docs/whatsapp.md for operating it.
"""
