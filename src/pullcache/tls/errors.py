"""What keeps TLS from being set up: a file that cannot be read or does not hold what it should."""

from __future__ import annotations


class TlsSetupError(Exception):
    """One line for the operator: which file, and why it cannot serve."""
