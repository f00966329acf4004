"""The JSON 1.1 door (ECR, Secrets Manager): an operation's valid parameters from the model, mutated, signed.

A case picks an operation of ECR or Secrets Manager, builds valid parameters (aws_shapes.py), and then most of
the time mutates them: a member's value replaced by another type, grown, nulled, renamed or removed, unknown
members added (values.mutate_json); or the body itself (not JSON, truncated, another top-level type, invalid
UTF-8, a byte-order mark, too deep); or the headers (X-Amz-Target of another service, an unknown operation,
none; another Content-Type). Every case is signed with the root key for the scope it names, so what the server
refuses is the request, not the signature.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.model import ServiceModel

from testkit.fuzz.aws_shapes import example_params
from testkit.fuzz.cases import Case, Door
from testkit.fuzz.signing import signed_headers
from testkit.fuzz.values import header_safe, hostile_string, mutate_json, nested_text
from testkit.fuzz.world import World

JSON_SERVICES = ("ecr", "secretsmanager")
CONTENT_TYPE = "application/x-amz-json-1.1"
VALID_SHARE = 0.15  # cases left valid, so the handlers behind validation are reached too
MAX_BODY = 2 * 1024 * 1024  # a mutation that grows a body past this is cut here (truncated JSON is a case too)


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True, slots=True)
class JsonRequest:
    """A JSON 1.1 request before signing: the scope's service, the headers and the body."""

    service: str
    headers: dict[str, str]
    body: bytes


def valid_request(rng: random.Random, world: World) -> tuple[JsonRequest, str]:
    """A valid JSON 1.1 request of a random operation, and its operation's name."""
    service = rng.choice(JSON_SERVICES)
    model = service_model(service)
    operation = model.operation_model(rng.choice(model.operation_names))
    params = example_params(rng, operation.input_shape, world, query=False)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Amz-Target": f"{model.metadata['targetPrefix']}.{operation.name}",
    }
    return JsonRequest(service, headers, json.dumps(params).encode()), f"{service} {operation.name}"


def json_case(rng: random.Random, world: World, seed: int, index: int) -> Case:
    request, note = valid_request(rng, world)
    if rng.random() >= VALID_SHARE:
        request, mutation = _mutate(rng, request)
        note = f"{note}: {mutation}"
    headers = signed_headers(world, request.service, "POST", "/", request.headers, request.body)
    return Case(Door.JSON, index, seed, "POST", "/", headers, request.body, note=note)


def _mutate(rng: random.Random, request: JsonRequest) -> tuple[JsonRequest, str]:
    choice = rng.random()
    headers = dict(request.headers)
    if choice < 0.6:
        document = json.loads(request.body)
        notes = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            document, note = mutate_json(rng, document)
            notes.append(note)
        body = _dumps(rng, document)
        if len(body) > MAX_BODY:
            body, notes = body[:MAX_BODY], [*notes, f"cut at {MAX_BODY} bytes"]
        return JsonRequest(request.service, headers, body), "; ".join(notes)
    if choice < 0.8:
        body, note = _mutate_body(rng, request.body)
        return JsonRequest(request.service, headers, body), note
    if choice < 0.95:
        target, note = _mutate_target(rng, headers["X-Amz-Target"])
        if target is None:
            del headers["X-Amz-Target"]
        else:
            headers["X-Amz-Target"] = target
        return JsonRequest(request.service, headers, request.body), note
    content_type = rng.choice((None, "application/json", "application/x-amz-json-1.0", "text/plain", "", "*/*"))
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    return JsonRequest(request.service, headers, request.body), f"Content-Type {content_type!r}"


def _dumps(rng: random.Random, document: object) -> bytes:
    """JSON text, ASCII-escaped or as UTF-8, NaN and Infinity allowed as Python writes them."""
    return json.dumps(document, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def _mutate_body(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    options: list[tuple[bytes, str]] = [
        (b"", "empty body"),
        (b"   ", "blank body"),
        (body[: max(len(body) // 2, 1)], "truncated JSON"),
        (b"[" + body + b"]", "top-level array"),
        (json.dumps(hostile_string(rng)).encode(), "top-level string"),
        (b"1e999", "top-level huge number"),
        (b"null", "top-level null"),
        (b"\xef\xbb\xbf" + body, "byte-order mark"),
        (body.replace(b"}", b"\xff\xfe}", 1), "invalid UTF-8"),
        (body[:-1] + b',"a":1,"a":2}' if body.endswith(b"}") and len(body) > 2 else body, "duplicate members"),
        (nested_text("{", 70), "nested 70 deep"),
        (nested_text(rng.choice("[{"), 100_000), "nested 100,000 deep"),
        (b'{"' + b"a" * 1_000_000 + b'":1}', "a one-megabyte member name"),
        (body.replace(b":", b":NaN,", 1), "NaN injected"),
        (rng.randbytes(rng.randrange(1, 512)), "random bytes"),
    ]
    return rng.choice(options)


def _mutate_target(rng: random.Random, target: str) -> tuple[str | None, str]:
    prefix, _, operation = target.rpartition(".")
    other_prefixes = ("AmazonEC2ContainerRegistry_V20150921", "secretsmanager", "AWSSecurityTokenServiceV20110615")
    options: list[str | None] = [
        None,
        "",
        prefix,
        f"{prefix}.",
        f".{operation}",
        f"{rng.choice(other_prefixes)}.{operation}",
        f"{prefix}.{operation.lower()}",
        f"{prefix}.{hostile_string(rng)}",
        f"{prefix}.{operation}.{operation}",
        f"{prefix}.{operation} ",
        f"{prefix}.__init__",
        f"{prefix}.operation_model",
    ]
    chosen = rng.choice(options)
    if chosen is not None:
        chosen = header_safe(chosen)
    return chosen, f"X-Amz-Target {chosen!r}"
