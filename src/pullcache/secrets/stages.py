"""UpdateSecretVersionStage: moving a staging label between versions, by the rules AWS documents.

- Moving a label (MoveToVersionId) that is on another version needs RemoveFromVersionId naming that version.
- Removing a label (RemoveFromVersionId alone) takes it off that version; AWSCURRENT can only be moved, never
  removed (a secret with a value always has a current version).
- Moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left (the version that had AWSPREVIOUS loses it).
- A version left with no label is deprecated; it is kept.

The refusals are InvalidParameterException (a version that does not exist: ResourceNotFoundException, in
GetSecretValue's wording). AWS's documentation states the rules but not these messages: they are reasoned.
"""

from __future__ import annotations

from collections.abc import Sequence

from pullcache.secrets.errors import InvalidSecretParameter, SecretNotFound
from pullcache.secrets.model import CURRENT, PREVIOUS, SecretVersion

NOTHING_TO_DO = "You must specify MoveToVersionId, RemoveFromVersionId, or both."


def moved_stages(
    versions: Sequence[SecretVersion], stage: str, remove_from: str | None, move_to: str | None
) -> dict[str, tuple[str, ...]]:
    """The new stages of each version that changes. Raises InvalidSecretParameter or SecretNotFound."""
    by_id = {version.version_id: version for version in versions}
    for version_id in (remove_from, move_to):
        if version_id is not None and version_id not in by_id:
            raise SecretNotFound(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
    holder = next((version.version_id for version in versions if stage in version.stages), None)
    if move_to is None and remove_from is None:
        raise InvalidSecretParameter(NOTHING_TO_DO)
    if remove_from is not None and remove_from != holder:
        raise InvalidSecretParameter(
            f"The staging label {stage} is not attached to version {remove_from}, so it can't be removed from it."
        )
    if move_to is None:
        if stage == CURRENT:
            raise InvalidSecretParameter(
                f"You can only move staging label {CURRENT} to a different secret version. It can't be completely "
                "removed."
            )
    elif holder is not None and holder != move_to and remove_from is None:
        raise InvalidSecretParameter(
            f"The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to "
            f"version {holder}, so you must explicitly reference that version in RemoveFromVersionId."
        )
    stages = {version.version_id: version.stages for version in versions}
    if holder is not None and holder != move_to:
        stages[holder] = tuple(label for label in stages[holder] if label != stage)
    if move_to is not None and stage not in stages[move_to]:
        stages[move_to] = (*stages[move_to], stage)
    if stage == CURRENT and holder is not None and move_to is not None and holder != move_to:
        for version_id, labels in stages.items():
            stages[version_id] = tuple(label for label in labels if label != PREVIOUS)
        stages[holder] = (*stages[holder], PREVIOUS)
    return {version_id: labels for version_id, labels in stages.items() if labels != by_id[version_id].stages}
