"""Upstream registries with a twist, for the pull-through tests: small aiohttp servers on loopback in front of a
real OCI registry (a DistributionServer, or another of these).

    TokenGate        demands Docker-style Bearer tokens (or Basic credentials), issued by its own /token
    FaultyUpstream   streams everything through and, when told, fails, throttles, corrupts, breaks off,
                     redirects or goes down; counts requests and the blob bytes it served
    HangingUpstream  streams everything through until told to hang: takes requests in and never answers, or
                     stalls blob bodies; counts the connections it was sent

Each runs its own event loop in a background thread (proxy.py), so sync tests and async tests (whose loop it
never touches) can use it alike: `start()`/`stop()`, or a `with` block; `url` is where it listens. Every knob and
counter is safe to use from any thread while requests are in flight. Bodies are streamed, never held whole.
"""

from tests.upstreams.faulty import BLOB_PATTERN, MANIFEST_PATTERN, FaultyUpstream, RecordedRequest
from tests.upstreams.hanging import HangingUpstream
from tests.upstreams.proxy import BackgroundServer, ReverseProxy, blob_digest_of, repository_of
from tests.upstreams.token_gate import TokenGate

__all__ = [
    "BLOB_PATTERN",
    "MANIFEST_PATTERN",
    "BackgroundServer",
    "FaultyUpstream",
    "HangingUpstream",
    "RecordedRequest",
    "ReverseProxy",
    "TokenGate",
    "blob_digest_of",
    "repository_of",
]
