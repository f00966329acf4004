"""The OCI distribution API of upstream registries: UpstreamClient is this package's one public face.

Its layers (client.py, transport.py, auth.py, retry.py, http_session.py; breaker.py beside them) call one way,
each only those below it; nothing outside the package imports them. The defaults of its bounds are here for the
settings to name.
"""

from pullcache.pullthrough.upstream.breaker import DEFAULT_COOL_DOWN, DEFAULT_FAILURES_TO_OPEN
from pullcache.pullthrough.upstream.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
    MAX_PIECE_BYTES,
    UpstreamClient,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_COOL_DOWN",
    "DEFAULT_FAILURES_TO_OPEN",
    "DEFAULT_FIRST_BYTE_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_PIECE_BYTES",
    "UpstreamClient",
]
