"""The README's compatibility table is what testkit/compatibility.py makes from the models and the server's
operation tables now: an operation implemented, a partial note added or removed, or a botocore upgrade that
changes a model, and this fails until `python -m testkit.compatibility` is run again."""

from __future__ import annotations

from typing import Final

import pytest
from botocore.model import ServiceModel

from pullcache.aws.models import load_service_models
from testkit.compatibility import (
    README,
    NoteOnUnservedOperation,
    Row,
    Status,
    current_section,
    generate,
    rows_of,
)

STS: Final = load_service_models(["sts"]).get("sts")


def test_the_readmes_compatibility_table_is_what_the_code_makes_now() -> None:
    section = current_section(README.read_text(encoding="utf-8"))

    assert section is not None, "README.md lacks the compatibility markers"
    assert section == generate(), "README.md's compatibility table is stale: run python -m testkit.compatibility"


def test_each_operation_of_a_model_is_a_row_implemented_partial_or_not() -> None:
    rows = rows_of(STS, frozenset({"GetCallerIdentity", "AssumeRole"}), [{"AssumeRole": "no MFA"}])

    assert [row.operation for row in rows] == sorted(STS.operation_names)
    assert Row("AssumeRole", Status.PARTIAL, "no MFA") in rows
    assert Row("GetCallerIdentity", Status.IMPLEMENTED) in rows
    assert Row("GetFederationToken", Status.NOT_IMPLEMENTED) in rows


@pytest.mark.parametrize("operation", ["GetFederationToken", "Frobnicate"])
def test_a_note_on_an_operation_the_server_does_not_serve_is_refused(operation: str) -> None:
    model: ServiceModel = STS

    with pytest.raises(NoteOnUnservedOperation, match=operation):
        rows_of(model, frozenset({"GetCallerIdentity"}), [{operation: "half done"}])
