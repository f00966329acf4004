"""IamService: the IAM use cases of one store, grouped by what they act on.

    service = IamService.over(store)
    user = await service.users.create_user(account, "alice")
    await service.permissions.attach_policy(account, EntityKind.USER, "alice", READ_ONLY_ARN)

Every use case takes the account it acts in; none knows who calls (the IAM edge authorizes before it calls).
"""

from __future__ import annotations

from dataclasses import dataclass

from pullcache.iam.access_keys import AccessKeyService
from pullcache.iam.account_details import AccountDetailsService
from pullcache.iam.arns import ROOT_PATH, group_arn, role_arn, user_arn
from pullcache.iam.errors import EntityKind
from pullcache.iam.groups import GroupService
from pullcache.iam.managed_policies import ManagedPolicyService
from pullcache.iam.model import Clock, utc_now
from pullcache.iam.permissions import PermissionService
from pullcache.iam.ports import IamStore
from pullcache.iam.roles import RoleService
from pullcache.iam.users import UserService


@dataclass(frozen=True, slots=True)
class IamService:
    store: IamStore
    users: UserService
    access_keys: AccessKeyService
    groups: GroupService
    roles: RoleService
    policies: ManagedPolicyService
    permissions: PermissionService
    account_details: AccountDetailsService

    @classmethod
    def over(cls, store: IamStore, clock: Clock = utc_now) -> IamService:
        return cls(
            store=store,
            users=UserService(store, clock),
            access_keys=AccessKeyService(store, clock),
            groups=GroupService(store, clock),
            roles=RoleService(store, clock),
            policies=ManagedPolicyService(store, clock),
            permissions=PermissionService(store, clock),
            account_details=AccountDetailsService(store),
        )

    async def entity_arn(self, account: str, kind: EntityKind, name: str) -> str:
        """The ARN of the user, group or role named `name`, path included; for one that does not exist, the ARN
        it would have at the root path. This is the resource IAM authorizes an operation on it against."""
        async with self.store.reading() as session:
            match kind:
                case EntityKind.USER:
                    user = await session.find_user(account, name)
                    return user.arn if user is not None else user_arn(account, ROOT_PATH, name)
                case EntityKind.GROUP:
                    group = await session.find_group(account, name)
                    return group.arn if group is not None else group_arn(account, ROOT_PATH, name)
                case EntityKind.ROLE:
                    role = await session.find_role(account, name)
                    return role.arn if role is not None else role_arn(account, ROOT_PATH, name)
