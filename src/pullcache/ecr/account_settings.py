"""ECR's account settings (GetAccountSetting, PutAccountSetting), kept per registry scope.

The names and values are those botocore's current ECR model documents: BASIC_SCAN_TYPE_VERSION (AWS_NATIVE),
REGISTRY_POLICY_SCOPE (V2) and BLOB_MOUNTING (ENABLED or DISABLED). The values ECR no longer accepts (CLAIR, V1)
are refused as any other. A setting never put reads as ECR's default for a new registry. The settings are stored
faithfully; none changes how this server behaves (it has no scanner, applies the registry policy as V2 does, and
mounts blobs across repositories of a registry whatever BLOB_MOUNTING says).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter
from pullcache.ecr.ports import RegistrySettingsStore


@dataclass(frozen=True, slots=True)
class AccountSetting:
    values: tuple[str, ...]
    default: str


SETTINGS: Mapping[str, AccountSetting] = {
    "BASIC_SCAN_TYPE_VERSION": AccountSetting(("AWS_NATIVE",), "AWS_NATIVE"),
    "REGISTRY_POLICY_SCOPE": AccountSetting(("V2",), "V2"),
    "BLOB_MOUNTING": AccountSetting(("ENABLED", "DISABLED"), "DISABLED"),
}


class EcrAccountSettings:
    def __init__(self, store: RegistrySettingsStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    async def get_setting(self, scope: RegistryScope, name: str) -> str:
        """Raises InvalidParameter for a name ECR does not know."""
        setting = _setting(name)
        return await self._store.find_account_setting(scope, name) or setting.default

    async def put_setting(self, scope: RegistryScope, name: str, value: str) -> None:
        """Raises InvalidParameter for a name ECR does not know or a value the setting does not take."""
        setting = _setting(name)
        if value not in setting.values:
            # Reasoned: ECR's form for a parameter it refuses; the valid values are the model's.
            raise InvalidParameter(
                "Invalid parameter at 'value' failed to satisfy constraint: 'Value for account setting "
                f"{name} must be one of: {', '.join(setting.values)}'"
            )
        await self._store.set_account_setting(scope, name, value, self._clock())


def _setting(name: str) -> AccountSetting:
    setting = SETTINGS.get(name)
    if setting is None:
        # Reasoned: ECR's form for a parameter it refuses; the names are the model's.
        raise InvalidParameter(
            "Invalid parameter at 'name' failed to satisfy constraint: 'Account setting name must be one of: "
            f"{', '.join(SETTINGS)}'"
        )
    return setting
