"""The OCI distribution API of upstream registries: UpstreamClient is this package's one public face."""

from pullcache.pullthrough.upstream.client import MAX_PIECE_BYTES, UpstreamClient

__all__ = ["MAX_PIECE_BYTES", "UpstreamClient"]
