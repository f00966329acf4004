"""The connection budget: the cap a file limit allows, and the count kept from accept() to close."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket

import pytest

from pullcache.connection_budget import (
    RESERVED_FILES,
    BudgetedListener,
    ConnectionBudget,
    default_max_connections,
    eviction_slack,
    max_connections_for,
)


@pytest.mark.parametrize(("limit", "cap"), [(512, 224), (1024, 480), (65536, 32736), (100, 18)])
def test_the_default_cap_is_half_what_the_file_limit_leaves_after_the_reserve(limit: int, cap: int) -> None:
    assert default_max_connections(limit) == cap
    assert max_connections_for(0, limit) == cap
    assert cap + eviction_slack(cap) + RESERVED_FILES <= limit


def test_a_cap_the_file_limit_cannot_hold_is_lowered_to_what_it_can() -> None:
    assert max_connections_for(10_000, 512) < 512 - RESERVED_FILES
    assert max_connections_for(300, 512) == 300


class Idle:
    """Connections that can make room, as many times as there are."""

    def __init__(self, count: int) -> None:
        self.count = count

    def make_room(self) -> bool:
        if self.count == 0:
            return False
        self.count -= 1
        return True


def test_connections_are_admitted_to_the_cap_then_make_room_then_are_refused() -> None:
    idle = Idle(2)
    budget = ConnectionBudget(4, make_room=idle.make_room)

    assert [budget.admit() for _ in range(7)] == [True] * 6 + [False]
    assert (budget.open, budget.evicted, budget.refused) == (6, 2, 1)


def test_closings_under_way_hold_files_until_released() -> None:
    budget = ConnectionBudget(8, make_room=lambda: True)
    slack = eviction_slack(8)
    for _ in range(8 + slack):
        assert budget.has_file_for_one_more()
        assert budget.admit()

    assert not budget.has_file_for_one_more()
    budget.release(evicted=True)
    assert budget.has_file_for_one_more()


def test_released_connections_free_their_places() -> None:
    budget = ConnectionBudget(2, make_room=lambda: False)
    assert budget.admit()
    assert budget.admit()
    assert not budget.admit()
    budget.release(evicted=False)

    assert budget.admit()


def test_the_listener_refuses_past_the_budget_with_a_503_and_no_queue_left_behind() -> None:
    budget = ConnectionBudget(1, make_room=lambda: False)
    with BudgetedListener(socket.AF_INET, budget) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        first = socket.create_connection(listener.getsockname(), timeout=10)
        second = socket.create_connection(listener.getsockname(), timeout=10)
        with first, second:
            accepted, _address = listener.accept()
            with accepted, pytest.raises(BlockingIOError):
                listener.accept()  # the second is refused, then the queue is empty
            answer = second.recv(4096)

    assert answer.startswith(b"HTTP/1.1 503 ")
    assert budget.refused == 1


async def test_at_the_file_limit_one_failed_accept_is_reported_not_one_for_each_turn_of_asyncios_accept_loop() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    budget = ConnectionBudget(1000, make_room=lambda: False)
    listener = BudgetedListener(socket.AF_INET, budget)
    listener.bind(("127.0.0.1", 0))
    server = await loop.create_server(asyncio.Protocol, sock=listener, backlog=100)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    filler: list[int] = []
    client = None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
        with contextlib.suppress(OSError):
            while True:
                filler.append(os.open(os.devnull, os.O_RDONLY))
        os.close(filler.pop())  # room for the client's socket, none for the server's end of it
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(listener.getsockname())
        await asyncio.sleep(0.3)  # asyncio pauses the listener for a second after a failed accept
    finally:
        for descriptor in filler:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if client is not None:
            client.close()
        server.close()
        await server.wait_closed()
        loop.set_exception_handler(None)

    assert [context["message"] for context in reported] == ["socket.accept() out of system resource"]
