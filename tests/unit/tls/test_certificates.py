"""The local CA of --tls self-signed: what it issues, what a later start reuses and what it issues again."""

from __future__ import annotations

import ipaddress
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pullcache.tls import TlsSetupError, check_files, default_names, ensure_self_signed

NAMES = ("localhost", "127.0.0.1", "registry.example")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def serial(path: Path) -> int:
    return chain(path)[0].serial_number


def test_a_first_start_makes_a_ca_and_a_server_certificate_for_the_names(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path / "tls", NAMES, NOW)

    assert made.ca_created
    assert made.server_issued
    ca = x509.load_pem_x509_certificate(made.ca.read_bytes())
    server, chained_ca = chain(made.server.certificate)
    assert chained_ca == ca  # server.pem: the server's certificate, then the CA's
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    alternatives = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alternatives.get_values_for_type(x509.DNSName) == ["localhost", "registry.example"]
    assert alternatives.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert timedelta(days=3649) < ca.not_valid_after_utc - NOW <= timedelta(days=3650)
    assert timedelta(days=364) < server.not_valid_after_utc - NOW <= timedelta(days=365)
    assert (made.cert_dir / "ca.crt").read_bytes() == made.ca.read_bytes()  # skopeo's --cert-dir reads *.crt


def test_the_keys_are_readable_by_their_owner_alone(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path / "tls", NAMES, NOW)

    for key in (made.ca_key, made.server.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.ca.stat().st_mode) == 0o644


def test_the_server_files_load_as_a_certificate_and_its_key(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path / "tls", NAMES, NOW)

    assert check_files(made.server).serial == f"{serial(made.server.certificate):x}"


def test_a_later_start_with_the_same_names_reuses_both(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    ca_before, server_before = first.ca.read_bytes(), first.server.certificate.read_bytes()

    again = ensure_self_signed(tmp_path / "tls", tuple(reversed(NAMES)), NOW + timedelta(days=100))

    assert not again.ca_created
    assert not again.server_issued
    assert again.ca.read_bytes() == ca_before
    assert again.server.certificate.read_bytes() == server_before


def test_other_names_issue_a_new_server_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    ca_before, serial_before = first.ca.read_bytes(), serial(first.server.certificate)

    again = ensure_self_signed(tmp_path / "tls", ("localhost", "10.0.0.7"), NOW)

    assert not again.ca_created
    assert again.server_issued
    assert again.ca.read_bytes() == ca_before
    assert serial(again.server.certificate) != serial_before
    server = chain(again.server.certificate)[0]
    alternatives = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alternatives.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]


def test_a_server_certificate_within_30_days_of_its_end_is_issued_again(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    serial_before = serial(first.server.certificate)

    kept = ensure_self_signed(tmp_path / "tls", NAMES, NOW + timedelta(days=334))
    renewed = ensure_self_signed(tmp_path / "tls", NAMES, NOW + timedelta(days=336))

    assert not kept.server_issued
    assert renewed.server_issued
    assert serial(renewed.server.certificate) != serial_before
    assert chain(renewed.server.certificate)[0].not_valid_after_utc > NOW + timedelta(days=700)


def test_a_server_certificate_the_ca_did_not_issue_is_issued_again(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    other = ensure_self_signed(tmp_path / "other", NAMES, NOW)
    first.server.certificate.write_bytes(other.server.certificate.read_bytes())
    first.server.key.write_bytes(other.server.key.read_bytes())

    again = ensure_self_signed(tmp_path / "tls", NAMES, NOW)

    assert again.server_issued
    chain(again.server.certificate)[0].verify_directly_issued_by(chain(first.ca)[0])


def test_a_ca_without_its_key_stops_the_start_instead_of_being_replaced(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    ca_before = first.ca.read_bytes()
    first.ca_key.unlink()

    with pytest.raises(TlsSetupError, match=r"the local CA does not load .*: remove .*ca\.pem and .*ca-key\.pem"):
        ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    assert first.ca.read_bytes() == ca_before


def test_a_ca_key_of_another_ca_stops_the_start(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "tls", NAMES, NOW)
    other = ensure_self_signed(tmp_path / "other", NAMES, NOW)
    first.ca_key.write_bytes(other.ca_key.read_bytes())

    with pytest.raises(TlsSetupError, match="the local CA's key does not match its certificate"):
        ensure_self_signed(tmp_path / "tls", NAMES, NOW)


def test_a_directory_that_cannot_be_written_is_one_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(TlsSetupError, match="cannot write the TLS files in"):
        ensure_self_signed(blocker / "tls", NAMES, NOW)


def test_the_default_names_are_loopback_this_host_the_address_listened_on_and_the_public_host() -> None:
    names = default_names("10.0.0.5", "registry.example:8443")

    assert names[:3] == ("localhost", "127.0.0.1", "::1")
    assert socket.gethostname().lower() in [name.lower() for name in names] or "_" in socket.gethostname()
    assert names[-2:] == ("10.0.0.5", "registry.example")
    assert "0.0.0.0" not in default_names("0.0.0.0", None)
