"""RuleResolver: which pull-through cache rule covers a repository, as this worker knows the rules.

Every pull under the cache asks, so the scope's rules are kept RULES_TTL seconds; a miss that no kept rule covers
reads them again at once (`fresh`), so a rule created a moment ago, in any worker, applies to the very next pull.
"""

from __future__ import annotations

from collections.abc import Sequence

from pullcache.caching.memo import TtlMemo
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.mirrors import mirror_rule
from pullcache.pullthrough.ports import PullThroughRuleStore
from pullcache.pullthrough.rules import PullThroughRule, match_rule

RULES_TTL = 1.0  # seconds a worker keeps a scope's rules before reading them again
# Seconds between reads of the rules for mirror requests no kept rule serves: a rule created a moment ago serves
# the next such request nearly at once, and a flood of requests for hosts of the caller's choosing costs a read
# a tenth of a second at most.
MIRROR_REREAD = 0.1


class RuleResolver:
    def __init__(self, rules: PullThroughRuleStore, ttl: float = RULES_TTL) -> None:
        self._rules = rules
        self._memo: TtlMemo[RegistryScope, Sequence[PullThroughRule]] = TtlMemo(ttl)

    async def find_rule(self, scope: RegistryScope, repository: str, *, fresh: bool = False) -> PullThroughRule | None:
        """The rule covering `repository`, or None. With `fresh`, kept rules that cover nothing of it are read
        again (a pull that comes while the rules are being read shares that read)."""
        rules = await self._memo.get(
            scope,
            lambda: self._list_rules(scope),
            reuse=None if not fresh else lambda kept: match_rule(kept, repository) is not None,
        )
        return match_rule(rules, repository)

    async def find_mirror_rule(self, scope: RegistryScope, host: str, repository: str) -> PullThroughRule | None:
        """The rule that serves the upstream `host`'s `repository` to a runtime using this server as its mirror
        (mirrors.py), or None. Kept rules that serve none are read again once they are MIRROR_REREAD old."""
        rules = await self._memo.get(
            scope,
            lambda: self._list_rules(scope),
            reuse=lambda kept: mirror_rule(kept, host, repository) is not None,
            reused_for=MIRROR_REREAD,
        )
        return mirror_rule(rules, host, repository)

    def forget_rules(self, scope: RegistryScope) -> None:
        """Read the scope's rules again at the next pull (they changed in this process)."""
        self._memo.forget(scope)

    async def _list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        return tuple(await self._rules.list_rules(scope))
