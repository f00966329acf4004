"""Platforms of `pullcache warm --platform`, and which index entries they match."""

from __future__ import annotations

import pytest

from pullcache.warming.platforms import InvalidPlatform, Platform, host_platform, parse_platform


def test_a_platform_is_os_architecture_and_an_optional_variant() -> None:
    assert parse_platform("linux/amd64") == Platform("linux", "amd64")
    assert parse_platform("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm/v7/extra", ""])
def test_a_malformed_platform_is_refused(text: str) -> None:
    with pytest.raises(InvalidPlatform):
        parse_platform(text)


def test_a_variant_left_out_matches_any_and_arm64s_v8_is_the_same_as_none() -> None:
    assert Platform("linux", "arm").matches({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert not Platform("linux", "arm", "v7").matches({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert Platform("linux", "arm64", "v8").matches({"os": "linux", "architecture": "arm64"})
    assert Platform("linux", "arm64").matches({"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert not Platform("linux", "amd64").matches({"os": "windows", "architecture": "amd64"})
    assert not Platform("linux", "amd64").matches(None)


def test_this_machine_is_a_linux_platform() -> None:
    assert host_platform().os == "linux"
    assert host_platform().architecture in {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}
