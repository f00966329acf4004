"""Which door a case knocks on, and the case itself, from nothing but the seed, the index and the world.

Each index draws from its own `random.Random(f"{seed}:{index}")`, so any one case can be made again alone
(FUZZ_ONLY) and a run's cases do not depend on the order concurrent requests finish in.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from testkit.fuzz.cases import Case, Door
from testkit.fuzz.json_door import json_case
from testkit.fuzz.query_door import query_case
from testkit.fuzz.raw_door import raw_case
from testkit.fuzz.registry_door import registry_case
from testkit.fuzz.signature_door import signature_case
from testkit.fuzz.world import World

CaseMaker = Callable[[random.Random, World, int, int], Case]
# How often each door is taken: /v2/ has the most endpoints and headers; the AWS doors share the rest.
DOOR_WEIGHTS: tuple[tuple[Door, CaseMaker, float], ...] = (
    (Door.REGISTRY, registry_case, 0.45),
    (Door.JSON, json_case, 0.25),
    (Door.QUERY, query_case, 0.18),
    (Door.SIGNATURE, signature_case, 0.12),
)


def case_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"{seed}:{index}")


def make_case(world: World, seed: int, index: int) -> Case:
    """The case of `index` in the run of `seed`: the same request (but for signature times) on every run."""
    rng = case_rng(seed, index)
    makers = [maker for _, maker, _ in DOOR_WEIGHTS]
    weights = [weight for _, _, weight in DOOR_WEIGHTS]
    maker = rng.choices(makers, weights)[0]
    return maker(rng, world, seed, index)


def make_raw_case(world: World, seed: int, index: int) -> Case:
    """The raw door's case of `index`: kept apart, since what the HTTP parser refuses is answered before any
    handler of the server runs."""
    return raw_case(case_rng(seed, index), world, seed, index)
