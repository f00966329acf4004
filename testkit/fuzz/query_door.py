"""The Query door (IAM, STS): an action's valid parameters from the model, flattened, mutated, signed.

Parameters are flattened the way botocore's Query serializer writes them (`A.B`, `Name.member.N`,
`Name.entry.N.key`), then mutated: a value replaced by hostile text, a key's list index made zero, negative,
huge or not a number, keys renamed or added, Action and Version removed, doubled or unknown, the body not UTF-8,
the parameters moved to the query string of a GET. Every case is signed for the scope it names.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote, urlencode

from botocore.model import ListShape, MapShape, Shape, StructureShape

from testkit.fuzz.aws_shapes import example_params
from testkit.fuzz.cases import Case, Door
from testkit.fuzz.json_door import service_model
from testkit.fuzz.signing import signed_headers
from testkit.fuzz.values import MAX_HEADER_TEXT, hostile_string, random_text
from testkit.fuzz.world import World

QUERY_SERVICES = ("iam", "sts")
FORM = "application/x-www-form-urlencoded; charset=utf-8"
VALID_SHARE = 0.15
Pairs = list[tuple[str, str]]


def valid_pairs(rng: random.Random, world: World) -> tuple[str, Pairs, str]:
    """(the scope's service, the form's pairs, a note) of a valid Query request of a random action."""
    service = rng.choice(QUERY_SERVICES)
    model = service_model(service)
    operation = model.operation_model(rng.choice(model.operation_names))
    params = example_params(rng, operation.input_shape, world, query=True)
    pairs: Pairs = [("Action", operation.name), ("Version", str(model.api_version))]
    if operation.input_shape is not None:
        pairs += _flatten(operation.input_shape, params, "")
    return service, pairs, f"{service} {operation.name}"


def query_case(rng: random.Random, world: World, seed: int, index: int) -> Case:
    service, pairs, note = valid_pairs(rng, world)
    body_bytes: bytes | None = None
    if rng.random() >= VALID_SHARE:
        pairs, body_bytes, mutation = _mutate(rng, pairs)
        note = f"{note}: {mutation}"
    query = urlencode(pairs, quote_via=quote)
    if rng.random() < 0.1 and len(query) < MAX_HEADER_TEXT:
        target = "/?" + query
        headers = signed_headers(world, service, "GET", target, {}, b"")
        return Case(Door.QUERY, index, seed, "GET", target, headers, note=note + " (GET)")
    body = body_bytes if body_bytes is not None else urlencode(pairs, quote_via=quote).encode()
    headers = signed_headers(world, service, "POST", "/", {"Content-Type": FORM}, body)
    return Case(Door.QUERY, index, seed, "POST", "/", headers, body, note=note)


def _flatten(shape: Shape, value: Any, key: str) -> Pairs:
    if isinstance(shape, StructureShape):
        pairs: Pairs = []
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if wire in value:
                pairs += _flatten(member, value[wire], f"{key}.{wire}" if key else wire)
        return pairs
    if isinstance(shape, ListShape):
        if not value:
            return [(key, "")]
        member_name = shape.member.serialization.get("name", "member")
        prefix = key if shape.serialization.get("flattened") else f"{key}.{member_name}"
        return [pair for n, item in enumerate(value, 1) for pair in _flatten(shape.member, item, f"{prefix}.{n}")]
    if isinstance(shape, MapShape):
        prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
        pairs = []
        for n, (entry_key, item) in enumerate(value.items(), 1):
            pairs.append((f"{prefix}.{n}.key", str(entry_key)))
            pairs += _flatten(shape.value, item, f"{prefix}.{n}.value")
        return pairs
    if isinstance(value, bool):
        return [(key, "true" if value else "false")]
    return [(key, str(value))]


def _mutate(rng: random.Random, pairs: Pairs) -> tuple[Pairs, bytes | None, str]:
    """Changed pairs, or (rarely) a body that is not a form at all, and what was done."""
    pairs = list(pairs)
    choice = rng.randrange(10)
    params = [n for n, (key, _) in enumerate(pairs) if key not in ("Action", "Version")]
    if choice <= 2 and params:
        position = rng.choice(params)
        key, _ = pairs[position]
        replacement = rng.choice(
            (hostile_string(rng), "maybe", "1e99", "99999999999999999999", "-1", "2026-13-45T99:99:99Z", "%%%")
        )
        pairs[position] = (key, replacement)
        return pairs, None, f"{key} = {replacement[:40]!r}"
    if choice == 3 and params:
        position = rng.choice(params)
        key, value = pairs[position]
        index = rng.choice(("0", "-1", "99999999999999999999", "a", "1.2.3", "", "01", "4294967296"))
        parts = key.split(".")
        numbered = [n for n, part in enumerate(parts) if part.isdigit()]
        if numbered:
            parts[rng.choice(numbered)] = index
        else:
            parts.append(index)
        pairs[position] = (".".join(parts), value)
        return pairs, None, f"key {key} renumbered {index!r}"
    if choice == 4:
        key = rng.choice(("Unknown", hostile_string(rng), "Action.member.1", ".", "a..b", "Tags.member.1.Key"))
        pairs.append((key, hostile_string(rng)))
        return pairs, None, f"extra key {key[:40]!r}"
    if choice == 5:
        action = rng.choice(("", hostile_string(rng), "getcalleridentity", "__class__", "CreateUser "))
        pairs = [(k, action if k == "Action" else v) for k, v in pairs]
        return pairs, None, f"Action {action[:40]!r}"
    if choice == 6:
        dropped = rng.choice(("Action", "Version"))
        return [(k, v) for k, v in pairs if k != dropped], None, f"no {dropped}"
    if choice == 7:
        version = rng.choice(("", "2099-01-01", hostile_string(rng)))
        pairs = [(k, version if k == "Version" else v) for k, v in pairs]
        pairs.append(("Action", random_text(rng, 8)))
        return pairs, None, f"Version {version[:40]!r} and a second Action"
    if choice == 8 and params:
        key, value = pairs[rng.choice(params)]
        pairs += [(key, value)] * rng.choice((2, 1000))
        return pairs, None, f"{key} repeated"
    body = rng.choice(
        (
            b"Action=GetCallerIdentity&Version=2011-06-15&\xff\xfe",
            b"&&&===",
            b"Action=%zz",
            b'{"Action":"GetCallerIdentity"}',
            urlencode(pairs).encode() + b"&" + b"a=" + b"b" * 2_000_000,
        )
    )
    return pairs, body, f"body {body[:40]!r}"
