"""What the pull-through cache reports as it works, for whoever counts it (the metrics adapter implements it).

    PullThroughObserver   hits and misses by rule and kind, bytes from the cache and from upstreams, stale
                          serves, tag checks, fills under way and the requests that joined one
    UpstreamObserver      each answer an upstream gives (its host, its status) and how long its first byte took

Calls are synchronous and cheap (a counter moves): they run on the pull path. Labels are bounded: a rule's prefix,
a kind (`manifest`, `blob`), an upstream's host - never a repository name or a digest.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

ContentKind = Literal["manifest", "blob"]
MANIFEST: Final = "manifest"
BLOB: Final = "blob"
TRANSPORT_FAILED: Final = "error"  # the status of an exchange that got no answer (refused, reset, timed out)


class PullThroughObserver(Protocol):
    def served(self, rule: str, kind: ContentKind, *, hit: bool, size: int) -> None:
        """A pull under `rule` answered from what the cache held (`hit`) or from the upstream for this request;
        `size`: the bytes it sends (0 when not known yet)."""
        ...

    def fetched(self, rule: str, kind: ContentKind, size: int) -> None:
        """`size` bytes fetched from `rule`'s upstream and stored (a blob counted once, when its fill commits)."""
        ...

    def stale_served(self, rule: str) -> None:
        """A cached tag served because checking it upstream failed."""
        ...

    def tag_checked(self, rule: str) -> None:
        """A cached tag past its TTL asked of the upstream again."""
        ...

    def fill_started(self) -> None: ...

    def fill_ended(self) -> None: ...

    def fill_joined(self) -> None:
        """A request for a blob found its fill already under way (in this process or another) and follows it."""
        ...


class UpstreamObserver(Protocol):
    def answered(self, host: str, status: int | str, first_byte_seconds: float | None) -> None:
        """One exchange with `host`: its status (TRANSPORT_FAILED when none came), and the seconds from sending
        the request to its headers (None without an answer)."""
        ...


class Unobserved:
    """Counts nothing: the observer of a cache (or an upstream client) that nobody watches."""

    def served(self, rule: str, kind: ContentKind, *, hit: bool, size: int) -> None:
        pass

    def fetched(self, rule: str, kind: ContentKind, size: int) -> None:
        pass

    def stale_served(self, rule: str) -> None:
        pass

    def tag_checked(self, rule: str) -> None:
        pass

    def fill_started(self) -> None:
        pass

    def fill_ended(self) -> None:
        pass

    def fill_joined(self) -> None:
        pass

    def answered(self, host: str, status: int | str, first_byte_seconds: float | None) -> None:
        pass


UNOBSERVED: Final = Unobserved()
