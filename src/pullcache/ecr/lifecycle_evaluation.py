"""Which images a lifecycle policy expires: ECR's evaluator, pure (no store, no clock of its own).

The rules are those of "Lifecycle policy evaluation rules" in the ECR user guide:

- every rule *identifies* the images that meet its tagging requirements (tagStatus `tagged` with a
  tagPrefixList or tagPatternList, `untagged`, `any`), whatever rules of higher priority did with them;
- its countType picks, among those, the images past its limit: `imageCountMoreThan` keeps the `countNumber`
  most recently pushed and picks the rest; `sinceImagePushed` picks those pushed more than `countNumber` days
  ago; `sinceImagePulled` those last pulled more than `countNumber` days ago - an image never pulled counts as
  pulled when it was pushed, as ECR documents;
- rules are applied in order of rulePriority, lowest first: an image is expired by exactly one or zero rules,
  and an image that meets the tagging requirements of a rule can never be expired by a rule of lower priority
  (it still counts towards that rule's imageCountMoreThan, as ECR's Example A shows);
- with a tagPrefixList an image matches when *every* prefix starts one of its tags; with a tagPatternList when
  every pattern (`*` matching any run of characters, the rest literally) matches one of its tags whole;
- expiration is ordered by push time, older images first.

The policy is expected to have passed lifecycle.check_lifecycle_policy; the only action is `expire` (pullcache
keeps one storage class, so archival - `transition` - is refused by the check, not evaluated here). The lifecycle
policy preview and lifecycle expiry both run it, through lifecycle_selection.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

TAGGED = "tagged"
UNTAGGED = "untagged"
ANY = "any"
IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
SINCE_IMAGE_PUSHED = "sinceImagePushed"
SINCE_IMAGE_PULLED = "sinceImagePulled"
EXPIRE = "expire"


class LifecycleImage(Protocol):
    """What the evaluator reads of an image (ecr.ports.ImageRecord has it)."""

    @property
    def tags(self) -> Sequence[str]: ...

    @property
    def pushed_at(self) -> datetime: ...

    @property
    def pulled_at(self) -> datetime | None: ...


ImageT = TypeVar("ImageT", bound=LifecycleImage)


@dataclass(frozen=True, slots=True)
class Selection:
    tag_status: str
    count_type: str
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    priority: int
    selection: Selection
    action: str = EXPIRE


@dataclass(frozen=True, slots=True)
class Expiry(Generic[ImageT]):
    """An image a rule expires."""

    image: ImageT
    rule_priority: int
    action: str


def parse_rules(text: str) -> tuple[LifecycleRule, ...]:
    """The rules of a policy that passed lifecycle.check_lifecycle_policy, in order of priority."""
    document = json.loads(text)
    return tuple(sorted((_rule(rule) for rule in document["rules"]), key=lambda rule: rule.priority))


def evaluate(rules: Iterable[LifecycleRule], images: Sequence[ImageT], now: datetime) -> list[Expiry[ImageT]]:
    """The images `rules` expire at `now`, each with the rule that expires it: by rule priority, then oldest first.

    Images are told apart by identity (`images` holds each image once)."""
    seen: set[int] = set()  # images that met the tagging requirements of a rule applied already
    expired: list[Expiry[ImageT]] = []
    for rule in sorted(rules, key=lambda r: r.priority):
        identified = [image for image in images if _meets_tagging(rule.selection, image)]
        for image in _past_limit(rule.selection, identified, now):
            if id(image) not in seen:
                expired.append(Expiry(image, rule.priority, rule.action))
        seen.update(id(image) for image in identified)
    return expired


def matches_pattern(pattern: str, tag: str) -> bool:
    """`*` matches any run of characters (none too); every other character only itself; the whole tag."""
    return _pattern(pattern).fullmatch(tag) is not None


def _meets_tagging(selection: Selection, image: LifecycleImage) -> bool:
    tags = image.tags
    if selection.tag_status == UNTAGGED:
        return not tags
    if selection.tag_status == ANY:
        return True
    if not tags:
        return False
    prefixes = all(any(tag.startswith(prefix) for tag in tags) for prefix in selection.tag_prefixes)
    patterns = all(any(matches_pattern(pattern, tag) for tag in tags) for pattern in selection.tag_patterns)
    return prefixes and patterns


def _past_limit(selection: Selection, identified: Sequence[ImageT], now: datetime) -> list[ImageT]:
    """The identified images the rule's countType picks, oldest first."""
    oldest_first = sorted(identified, key=lambda image: image.pushed_at)
    if selection.count_type == IMAGE_COUNT_MORE_THAN:
        keep = selection.count_number
        return oldest_first[: max(len(oldest_first) - keep, 0)]
    limit = now - timedelta(days=selection.count_number)
    if selection.count_type == SINCE_IMAGE_PULLED:
        return [image for image in oldest_first if (image.pulled_at or image.pushed_at) < limit]
    return [image for image in oldest_first if image.pushed_at < limit]


def _rule(rule: Mapping[str, Any]) -> LifecycleRule:
    selection = rule["selection"]
    return LifecycleRule(
        rule["rulePriority"],
        Selection(
            selection["tagStatus"],
            selection["countType"],
            selection["countNumber"],
            tuple(selection.get("tagPrefixList") or ()),
            tuple(selection.get("tagPatternList") or ()),
        ),
        rule["action"]["type"],
    )


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
