"""Platforms (`os/architecture[/variant]`) and which manifests of an index a pull of them takes.

Without `--platform` a pull takes the machine's own Linux platform, as docker does. A variant left out matches
any; arm64's only variant, v8, is the same as none (indexes write it either way).
"""

from __future__ import annotations

import platform as host
from collections.abc import Mapping
from dataclasses import dataclass

# What the kernel calls the machine -> the architecture (and variant) an index calls it (GOARCH, as Go spells it).
_MACHINES: Mapping[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}
_DEFAULT_VARIANTS: Mapping[str, str] = {"arm64": "v8"}


class InvalidPlatform(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} is not a platform like linux/amd64 or linux/arm/v7")


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def matches(self, stated: object) -> bool:
        """Whether an index entry's `platform` object is this platform (a variant left out here matches any)."""
        if not isinstance(stated, dict):
            return False
        if stated.get("os") != self.os or stated.get("architecture") != self.architecture:
            return False
        if self.variant is None:
            return True
        default = _DEFAULT_VARIANTS.get(self.architecture)
        return (stated.get("variant") or default) == (self.variant or default)


def parse_platform(text: str) -> Platform:
    """Raises InvalidPlatform."""
    parts = text.strip().split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise InvalidPlatform(text)
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def describe(stated: object) -> str:
    """An index entry's platform as text, for messages."""
    if not isinstance(stated, dict):
        return "no platform"
    return "/".join(str(stated[key]) for key in ("os", "architecture", "variant") if stated.get(key))


def host_platform() -> Platform:
    """This machine's own Linux platform."""
    machine = host.machine().lower()
    architecture, variant = _MACHINES.get(machine, (machine, None))
    return Platform("linux", architecture, variant)
