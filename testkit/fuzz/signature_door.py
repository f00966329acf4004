"""Unsigned and badly signed AWS requests: a valid JSON 1.1 or Query request whose authentication is wrong.

The request is one the JSON or Query door would send; then its Authorization header is removed, truncated,
mangled or replaced (another algorithm, a credential scope without its parts, an unknown key, another secret,
another region or service), its X-Amz-Date or x-amz-content-sha256 is wrong, a session token is made up, the
body changes after signing, or it is a presigned GET whose query parameters are wrong.
"""

from __future__ import annotations

import random
from dataclasses import replace
from urllib.parse import quote, urlencode

from testkit.fuzz import json_door, query_door
from testkit.fuzz.cases import Case, Door
from testkit.fuzz.signing import presigned_target, signed_headers
from testkit.fuzz.values import MAX_HEADER_TEXT, header_safe, hostile_string, random_text
from testkit.fuzz.world import World


def signature_case(rng: random.Random, world: World, seed: int, index: int) -> Case:
    if rng.random() < 0.5:
        request, note = json_door.valid_request(rng, world)
        service, headers, body = request.service, request.headers, request.body
    else:
        service, pairs, note = query_door.valid_pairs(rng, world)
        headers, body = {"Content-Type": query_door.FORM}, urlencode(pairs, quote_via=quote).encode()
        query = urlencode(pairs, quote_via=quote)
        if rng.random() < 0.25 and len(query) < MAX_HEADER_TEXT:
            return _presigned(rng, world, service, "/?" + query, seed, index, note)
    signed = signed_headers(world, service, "POST", "/", headers, body)
    mangled, body, mutation = _mangle(rng, world, service, headers, signed, body)
    return Case(Door.SIGNATURE, index, seed, "POST", "/", mangled, body, note=f"{note}: {mutation}")


def _mangle(
    rng: random.Random, world: World, service: str, unsigned: dict[str, str], signed: dict[str, str], body: bytes
) -> tuple[dict[str, str], bytes, str]:
    headers = dict(signed)
    authorization = headers["Authorization"]
    choice = rng.randrange(14)
    if choice == 0:
        del headers["Authorization"]
        return headers, body, "no Authorization"
    if choice == 1:
        cut = rng.randrange(len(authorization))
        headers["Authorization"] = authorization[:cut]
        return headers, body, f"Authorization cut at {cut}"
    if choice == 2:
        headers["Authorization"] = header_safe(
            rng.choice(
                (
                    "AWS4-HMAC-SHA512 " + authorization.partition(" ")[2],
                    "Basic QVdTOnRva2Vu",
                    "Bearer x",
                    "AWS4-HMAC-SHA256",
                    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
                    "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
                    "AWS4-HMAC-SHA256 Credential=" + "/" * 50 + ", SignedHeaders=host;x-amz-date, Signature=zz",
                    authorization.replace(",", ""),
                    authorization.replace("Credential=", "Credential=" + hostile_string(rng)),
                    authorization + ", Signature=" + "0" * 64,
                    authorization.replace("SignedHeaders=", "SignedHeaders=" + hostile_string(rng) + ";"),
                )
            )
        )
        return headers, body, "Authorization mangled"
    if choice == 3:
        other = replace(world, access_key_id="AKIA" + random_text(rng, 16).upper())
        return signed_headers(other, service, "POST", "/", unsigned, body), body, "unknown access key"
    if choice == 4:
        return signed_headers(world, service, "POST", "/", unsigned, body, secret="wrong"), body, "another secret"
    if choice == 5:
        region = rng.choice(("eu-west-1", "", "us-east-1/extra", hostile_string(rng)))
        signed_elsewhere = signed_headers(world, service, "POST", "/", unsigned, body, region=header_safe(region))
        return signed_elsewhere, body, f"region {region[:30]!r}"
    if choice == 6:
        other_service = rng.choice(("s3", "ecr", "iam", "sts", "secretsmanager", "", "ECR", hostile_string(rng)))
        headers = signed_headers(world, header_safe(other_service), "POST", "/", unsigned, body)
        return headers, body, f"scope service {other_service[:30]!r}"
    if choice == 7:
        stamp = rng.choice(("20000101T000000Z", "29991231T235959Z", "yesterday", "", "20260230T250000Z"))
        headers["X-Amz-Date"] = stamp
        return headers, body, f"X-Amz-Date {stamp!r}"
    if choice == 8:
        headers["X-Amz-Content-Sha256"] = rng.choice(("0" * 64, "UNSIGNED-PAYLOAD", "zz", ""))
        return headers, body, "x-amz-content-sha256 wrong"
    if choice == 9:
        token = rng.choice(("token", "", "a" * 5000, header_safe(hostile_string(rng))))
        headers = signed_headers(world, service, "POST", "/", {**unsigned, "X-Amz-Security-Token": token}, body)
        return headers, body, "made-up session token"
    if choice == 10:
        return headers, body + b" ", "body changed after signing"
    if choice == 11:
        headers["Authorization"] = authorization + ", " + "x=" * 1500
        return headers, body, "a long Authorization"
    if choice == 12:
        headers.pop("X-Amz-Date", None)
        return headers, body, "no X-Amz-Date"
    headers["Authorization"] = authorization.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256  ", 1).replace(", ", ",")
    return headers, body, "Authorization respaced"


def _presigned(rng: random.Random, world: World, service: str, target: str, seed: int, index: int, note: str) -> Case:
    presigned = presigned_target(world, service, target)
    replacements = {
        "X-Amz-Expires=300": rng.choice(("X-Amz-Expires=-1", "X-Amz-Expires=abc", "X-Amz-Expires=999999999999")),
        "X-Amz-Algorithm=AWS4-HMAC-SHA256": "X-Amz-Algorithm=none",
        "X-Amz-Signature=": "X-Amz-Signature=00",
        "X-Amz-Credential=": "X-Amz-Credential=x%2F",
        "X-Amz-Date=": "X-Amz-Date=2",
    }
    old, new = rng.choice(list(replacements.items()))
    if rng.random() < 0.2:
        mutated, mutation = presigned, "presigned, unchanged"
    else:
        mutated, mutation = presigned.replace(old, new, 1), f"presigned, {old} -> {new}"
    headers = {"Authorization": "AWS4-HMAC-SHA256 x"} if rng.random() < 0.1 else {}
    return Case(Door.SIGNATURE, index, seed, "GET", mutated, headers, note=f"{note}: {mutation}")
