"""The names a server certificate can carry: IP addresses and DNS names, a wildcard first label allowed."""

from __future__ import annotations

import pytest

from pullcache.core.certificate_names import check_name


@pytest.mark.parametrize("name", ["localhost", "registry.example", "*.example.internal", "10.1.2.3", "::1", "a-b.c"])
def test_names_a_certificate_can_carry_are_accepted(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["", "has space", "-lead.example", "a..b", "under_score.example", "x" * 64])
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="neither an IP address nor a DNS name"):
        check_name(name)
