"""UpdateSecretVersionStage's rules over a secret's versions (secrets/stages.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pullcache.secrets.errors import InvalidSecretParameter, SecretNotFound
from pullcache.secrets.model import CURRENT, PENDING, PREVIOUS, SecretVersion
from pullcache.secrets.stages import NOTHING_TO_DO, moved_stages

A, B, C = "a" * 32, "b" * 32, "c" * 32
WHEN = datetime(2026, 3, 1, tzinfo=UTC)


def versions(**stages: tuple[str, ...]) -> list[SecretVersion]:
    ids = {"a": A, "b": B, "c": C}
    return [SecretVersion(ids[name], b"", labels, WHEN) for name, labels in stages.items()]


def test_moving_awscurrent_leaves_awsprevious_on_the_version_it_left() -> None:
    current = versions(a=(PREVIOUS,), b=(CURRENT,), c=(PENDING,))

    assert moved_stages(current, CURRENT, B, C) == {A: (), B: (PREVIOUS,), C: (PENDING, CURRENT)}


def test_moving_awscurrent_back_to_the_previous_version_swaps_the_two() -> None:
    current = versions(a=(PREVIOUS,), b=(CURRENT,))

    assert moved_stages(current, CURRENT, B, A) == {A: (CURRENT,), B: (PREVIOUS,)}


def test_moving_a_label_held_elsewhere_needs_remove_from_version_id() -> None:
    with pytest.raises(InvalidSecretParameter, match="RemoveFromVersionId can't be empty"):
        moved_stages(versions(a=(CURRENT,), b=()), CURRENT, None, B)


def test_remove_from_must_be_the_version_that_holds_the_label() -> None:
    with pytest.raises(InvalidSecretParameter, match=f"not attached to version {B}"):
        moved_stages(versions(a=(CURRENT,), b=()), CURRENT, B, B)


def test_awscurrent_cannot_be_removed_only_moved() -> None:
    with pytest.raises(InvalidSecretParameter, match="can't be completely removed"):
        moved_stages(versions(a=(CURRENT,)), CURRENT, A, None)


def test_a_label_of_the_callers_moves_without_touching_awsprevious() -> None:
    current = versions(a=(PREVIOUS, "blue"), b=(CURRENT,))

    assert moved_stages(current, "blue", A, B) == {A: (PREVIOUS,), B: (CURRENT, "blue")}


def test_a_new_label_is_attached_without_remove_from() -> None:
    assert moved_stages(versions(a=(CURRENT,), b=()), "green", None, B) == {B: ("green",)}


def test_removing_a_label_leaves_its_version_deprecated() -> None:
    assert moved_stages(versions(a=(CURRENT,), b=(PENDING,)), PENDING, B, None) == {B: ()}


def test_moving_a_label_to_the_version_that_has_it_changes_nothing() -> None:
    assert moved_stages(versions(a=(CURRENT,)), CURRENT, A, A) == {}


def test_an_unknown_version_is_not_found() -> None:
    with pytest.raises(SecretNotFound, match=f"VersionId: {C}"):
        moved_stages(versions(a=(CURRENT,)), CURRENT, A, C)


def test_neither_version_is_refused() -> None:
    with pytest.raises(InvalidSecretParameter, match=NOTHING_TO_DO):
        moved_stages(versions(a=(CURRENT,)), "blue", None, None)
