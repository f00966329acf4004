"""The OCI distribution API of upstream registries: UpstreamClient is this package's one public face.

Its layers (client.py, transport.py, auth.py, retry.py, http_session.py) call one way, each only those below it;
nothing outside the package imports them.
"""

from pullcache.pullthrough.upstream.client import MAX_PIECE_BYTES, UpstreamClient

__all__ = ["MAX_PIECE_BYTES", "UpstreamClient"]
