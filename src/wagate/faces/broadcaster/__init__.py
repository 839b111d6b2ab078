"""The broadcaster's WhatsApp API (``../shared/seeds/broadcaster-quick-reference.md``)."""
