"""The local CA of `--tls self-signed` and the server certificate it issues, kept in `<data-dir>/tls/`:

    ca.pem             the CA's certificate: what clients trust (10 years)
    ca-key.pem         its key (mode 0600)
    server.pem         the server's certificate (a year), then the CA's: the chain a handshake sends
    server-key.pem     its key (mode 0600)
    cert-dir/ca.crt    the CA's certificate again, in a directory to give skopeo and podman as --cert-dir (they read
                       the *.crt files there as CAs)

A later start reuses the CA, and issues the server certificate again when the names asked differ from those it
carries, when it expires within REISSUE_BEFORE, or when the CA did not issue it. A CA that is half there or does
not load is not replaced silently (clients trust it): start-up stops and says to remove it. Keys are EC P-256.

Every file is written to a temporary name and renamed, so a server reloading on SIGHUP never reads half a file.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pullcache.core.certificate_names import is_name
from pullcache.tls.contexts import CertificateFiles
from pullcache.tls.errors import TlsSetupError

TLS_DIR: Final = "tls"
CA_LIFETIME: Final = timedelta(days=3650)
SERVER_LIFETIME: Final = timedelta(days=365)
REISSUE_BEFORE: Final = timedelta(days=30)  # a server certificate closer than this to its end is issued again
BACKDATE: Final = timedelta(minutes=5)  # valid from a little before now: clients whose clocks lag a bit accept it
CA_NAME: Final = "pullcache local CA"
_WILDCARD_HOSTS: Final = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class SelfSignedFiles:
    """Where the local CA and the server certificate it issued are, and what the last start did to them."""

    directory: Path
    ca_created: bool = False
    server_issued: bool = False

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert_dir(self) -> Path:
        """A directory holding the CA as ca.crt: skopeo's and podman's --cert-dir."""
        return self.directory / "cert-dir"

    @property
    def server(self) -> CertificateFiles:
        return CertificateFiles(self.directory / "server.pem", self.directory / "server-key.pem")


def self_signed_files(data_dir: Path) -> SelfSignedFiles:
    """Where `--tls self-signed` keeps its files under `data_dir` (whether or not they are there yet)."""
    return SelfSignedFiles(data_dir / TLS_DIR)


def default_names(host: str, public_host: str | None) -> tuple[str, ...]:
    """What the server certificate names when no names are given: localhost, 127.0.0.1, ::1, this machine's host
    name, the address listened on when it is one address, and the public host's name."""
    candidates = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host not in _WILDCARD_HOSTS:
        candidates.append(host)
    if public_host is not None:
        candidates.append(_host_of(public_host))
    return tuple(dict.fromkeys(name for name in candidates if is_name(name)))


def ensure_self_signed(directory: Path, names: Sequence[str], now: datetime | None = None) -> SelfSignedFiles:
    """The local CA in `directory` (created when neither of its files is there) and a server certificate for
    `names` issued by it (issued again as the module says). Raises TlsSetupError: a CA half there or unreadable, a
    directory that cannot be written."""
    at = now or datetime.now(UTC)
    files = SelfSignedFiles(directory)
    try:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        ca_certificate, ca_key, ca_created = _ensure_ca(files, at)
        server_issued = False
        if ca_created or not _server_certificate_fits(files, ca_certificate, names, at):
            _issue_server_certificate(files, ca_certificate, ca_key, names, at)
            server_issued = True
        files.cert_dir.mkdir(mode=0o755, exist_ok=True)
        ca_copy = files.cert_dir / "ca.crt"
        ca_pem = files.ca.read_bytes()
        if not ca_copy.exists() or ca_copy.read_bytes() != ca_pem:
            _write(ca_copy, ca_pem, 0o644)
    except OSError as error:
        raise TlsSetupError(f"cannot write the TLS files in {directory}: {error.strerror or error}") from None
    return SelfSignedFiles(directory, ca_created, server_issued)


def _ensure_ca(files: SelfSignedFiles, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    if not files.ca.exists() and not files.ca_key.exists():
        certificate, key = _new_ca(now)
        _write(files.ca_key, _key_pem(key), 0o600)
        _write(files.ca, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        return certificate, key, True
    advice = f"remove {files.ca} and {files.ca_key} to create a new CA (clients then trust the new ca.pem)"
    try:
        certificate = x509.load_pem_x509_certificate(files.ca.read_bytes())
        loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise TlsSetupError(f"the local CA does not load ({_reason(error)}): {advice}") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.public_key() != certificate.public_key():
        raise TlsSetupError(f"the local CA's key does not match its certificate: {advice}")
    if certificate.not_valid_after_utc - now < REISSUE_BEFORE:
        raise TlsSetupError(f"the local CA expires {certificate.not_valid_after_utc:%Y-%m-%d}: {advice}")
    return certificate, loaded, False


def _new_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pullcache"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME} {_short(socket.gethostname())}"[:64]),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _server_certificate_fits(
    files: SelfSignedFiles, ca_certificate: x509.Certificate, names: Sequence[str], now: datetime
) -> bool:
    """The server certificate there was issued by the CA for exactly `names`, lasts past REISSUE_BEFORE, and its
    key file holds its key."""
    server = files.server
    try:
        certificate = x509.load_pem_x509_certificate(server.certificate.read_bytes())
        key = serialization.load_pem_private_key(server.key.read_bytes(), password=None)
        certificate.verify_directly_issued_by(ca_certificate)
        alternatives = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        key.public_key() == certificate.public_key()
        and _name_set(_san_strings(alternatives)) == _name_set(names)
        and certificate.not_valid_after_utc - now >= REISSUE_BEFORE
    )


def _issue_server_certificate(
    files: SelfSignedFiles,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: Sequence[str],
    now: datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca_certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_LIFETIME, ca_certificate.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(list(_general_names(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = certificate.public_bytes(serialization.Encoding.PEM) + ca_certificate.public_bytes(
        serialization.Encoding.PEM
    )
    # The key first: a reload between the two renames then finds a new key and the old certificate, which does
    # not load, and keeps serving the old pair.
    _write(files.server.key, _key_pem(key), 0o600)
    _write(files.server.certificate, chain, 0o644)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_names(names: Iterable[str]) -> Iterable[x509.GeneralName]:
    for name in dict.fromkeys(names):
        try:
            yield x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            yield x509.DNSName(name.lower())


def _san_strings(alternatives: x509.SubjectAlternativeName) -> list[str]:
    found: list[str] = list(alternatives.get_values_for_type(x509.DNSName))
    found.extend(str(address) for address in alternatives.get_values_for_type(x509.IPAddress))
    return found


def _name_set(names: Iterable[str]) -> frozenset[str]:
    """Names compared as a certificate holds them: DNS names in lower case, addresses in their canonical form."""
    normalized: set[str] = set()
    for name in names:
        try:
            normalized.add(str(ipaddress.ip_address(name)))
        except ValueError:
            normalized.add(name.lower())
    return frozenset(normalized)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, content: bytes, mode: int) -> None:
    """Write `content` under a temporary name created with `mode` (a key is never readable by others, not even
    for a moment), then rename it over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)  # whatever the umask took away or left
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _host_of(host_and_port: str) -> str:
    """The host of `host[:port]` or `[v6]:port`."""
    if host_and_port.startswith("["):
        return host_and_port[1:].split("]", 1)[0]
    return host_and_port.rsplit(":", 1)[0] if host_and_port.count(":") == 1 else host_and_port


def _short(hostname: str) -> str:
    return hostname.split(".", 1)[0]


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return f"{error.filename}: {error.strerror}" if error.filename else str(error.strerror or error)
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
