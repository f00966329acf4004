"""BackgroundWork: the tasks the pull-through cache runs for itself, beside the requests that caused them.

An imported image's blobs and (when asked) its platforms' manifests are fetched here: no client's request waits
for them, and a client hanging up does not end them. A failure is logged, never raised: the next pull that
needs the content asks for it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from pullcache.pullthrough.fills import finish_or_cancel

log = logging.getLogger(__name__)

CLOSE_GRACE = 5.0  # seconds background work gets to finish when the server stops


class BackgroundWork:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        """Run `work` in the background; the task ends without raising (a failure is logged)."""
        task = asyncio.ensure_future(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Give the work `grace` seconds to finish, then cancel what is left (work cut short mid-write leaves
        nothing behind, but finishing is kinder)."""
        await finish_or_cancel(self._tasks, grace)


async def _logged(work: Awaitable[None]) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("background pull-through work failed: %s", error)
