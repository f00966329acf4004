"""The simulator's typed context entries become the request's condition keys, or InvalidInput."""

from __future__ import annotations

import pytest

from pullcache.iam.errors import InvalidInput
from pullcache.iam.simulation_context import ContextEntry, context_keys


def test_single_valued_types_become_one_value_and_list_types_a_list() -> None:
    keys = context_keys(
        [
            ContextEntry("aws:username", ("alice",), "string"),
            ContextEntry("aws:TagKeys", ("team", "env"), "stringList"),
            ContextEntry("aws:MultiFactorAuthAge", ("300",), "numeric"),
            ContextEntry("aws:SecureTransport", ("TRUE",), "boolean"),
            ContextEntry("aws:CurrentTime", ("2019-04-25T11:00:00Z",), "date"),
            ContextEntry("aws:EpochTime", ("1556190000",), "date"),
            ContextEntry("aws:SourceIp", ("10.1.2.3",), "ip"),
            ContextEntry("aws:SourceIpList", ("10.0.0.0/8", "2001:db8::/32"), "ipList"),
            ContextEntry("custom:Blob", ("aGVsbG8=",), "binary"),
        ]
    )

    assert keys == {
        "aws:username": "alice",
        "aws:TagKeys": ["team", "env"],
        "aws:MultiFactorAuthAge": "300",
        "aws:SecureTransport": "TRUE",
        "aws:CurrentTime": "2019-04-25T11:00:00Z",
        "aws:EpochTime": "1556190000",
        "aws:SourceIp": "10.1.2.3",
        "aws:SourceIpList": ["10.0.0.0/8", "2001:db8::/32"],
        "custom:Blob": "aGVsbG8=",
    }


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("ten", "numeric"),
        ("yes", "boolean"),
        ("last tuesday", "date"),
        ("10.0.0.300", "ip"),
        ("not base64!", "binary"),
    ],
)
def test_a_value_that_is_not_of_its_type_is_invalid_input(value: str, kind: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        context_keys([ContextEntry("custom:Key", (value,), kind)])

    assert raised.value.message == f"Context key custom:Key has the value {value}, which is not a {kind} value."


def test_a_single_valued_type_with_several_values_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        context_keys([ContextEntry("aws:username", ("alice", "bob"), "string")])
