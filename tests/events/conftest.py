"""The webhook tests' real HTTP receiver and webhook API helper, for the outbox
reader's tests."""

from tests.webhooks.conftest import hooks, make_receiver, receiver

__all__ = ["hooks", "make_receiver", "receiver"]
