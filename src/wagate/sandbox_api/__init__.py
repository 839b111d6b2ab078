"""The gateway's face on the sandbox network: ``/sandbox/v1`` and who owns which
virtual phone. The network itself lives in ``engines/sandbox`` and knows
nothing of users or HTTP."""
