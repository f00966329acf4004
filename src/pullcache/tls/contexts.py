"""ServerCertificates: the `ssl.SSLContext` the server's TLS handshakes take, built from a certificate file (PEM, the
server's certificate first, its chain after it) and a key file, and built again from them on reload.

A reload builds a new context and swaps it in only once it has loaded: a bad new file (unreadable, not PEM, a key
that is not the certificate's) leaves the old context serving, with a warning naming the reason. Handshakes that
begin after the swap take the new context; connections already open keep the session they negotiated, so a reload
drops none of them.

Every context: TLS 1.2 at least, ALPN `http/1.1` (the server speaks nothing else), the cipher order Python's server
contexts default to (the server's preference, no weak suites).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pullcache.tls.errors import TlsSetupError

log = logging.getLogger(__name__)

ALPN_PROTOCOLS: Final = ("http/1.1",)
MINIMUM_VERSION: Final = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    certificate: Path  # PEM: the server's certificate, then its chain
    key: Path  # PEM, unencrypted


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What the log says of a certificate: enough to tell one from the next."""

    subject: str
    serial: str  # hex
    not_after: datetime
    sha256: str  # of the DER certificate, hex

    def fields(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "serial": self.serial,
            "not_after": self.not_after.isoformat(timespec="seconds"),
            "sha256": self.sha256,
        }


def check_files(files: CertificateFiles) -> CertificateSummary:
    """What `files` hold, once a context loads them. Raises TlsSetupError with the file and the reason."""
    _context, summary = _load(files)
    return summary


def new_server_context() -> ssl.SSLContext:
    """A server context with this module's settings and no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.set_alpn_protocols(list(ALPN_PROTOCOLS))
    return context


class ServerCertificates:
    """The live context of `files`. Raises TlsSetupError when they do not load at first."""

    def __init__(self, files: CertificateFiles) -> None:
        self.files = files
        self._context, self.summary = _load(files)

    def current(self) -> ssl.SSLContext:
        """The context a handshake beginning now takes."""
        return self._context

    def reload(self) -> None:
        """Build a context from the files again and take it if it loads; else keep the one serving (logged)."""
        try:
            context, summary = _load(self.files)
        except TlsSetupError as error:
            log.warning(
                "kept the TLS certificate serving: the files do not load",
                extra={"fields": {"reason": str(error), **self.summary.fields()}},
            )
            return
        self._context, self.summary = context, summary
        log.info("reloaded the TLS certificate", extra={"fields": summary.fields()})


def _load(files: CertificateFiles) -> tuple[ssl.SSLContext, CertificateSummary]:
    """Read and check each file first, so that the reason names it; then load the pair into a new context."""
    certificate_pem = _read(files.certificate, "certificate")
    key_pem = _read(files.key, "key")
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)  # the first of the chain
    except ValueError:
        raise TlsSetupError(f"the certificate file {files.certificate} holds no PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsSetupError(f"the key file {files.key} is encrypted: give it unencrypted (mode 0600)") from None
    except ValueError:
        raise TlsSetupError(f"the key file {files.key} holds no PEM private key") from None
    if key.public_key() != certificate.public_key():
        raise TlsSetupError(f"the key file {files.key} does not hold the key of the certificate {files.certificate}")
    context = new_server_context()
    try:
        context.load_cert_chain(files.certificate, files.key, password=b"")
    except (ssl.SSLError, OSError) as error:  # a chain that does not parse, a file changed between the reads
        raise TlsSetupError(f"{files.certificate} and {files.key} do not load: {error}") from None
    summary = CertificateSummary(
        subject=certificate.subject.rfc4514_string(),
        serial=f"{certificate.serial_number:x}",
        not_after=certificate.not_valid_after_utc,
        sha256=hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )
    return context, summary


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise TlsSetupError(f"cannot read the {what} file {path}: {error.strerror or error}") from None
