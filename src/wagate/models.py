"""Every table, imported in one place so migrations and tools see them all."""

from wagate.auth.models import ApiKey, User

__all__ = ["ApiKey", "User"]
