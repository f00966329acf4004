"""ServerCertificates behind the server's TLS relays: real TLS handshakes on loopback see the certificate of the
files, a reload's new certificate for new connections only, and a bad replacement changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pullcache.http_server import BoundedAppRunner
from pullcache.tls import CertificateFiles, SelfSignedFiles, ServerCertificates, TlsSetupError
from pullcache.tls.certificates import ensure_self_signed

NAMES = ("localhost", "127.0.0.1")


@pytest.fixture
def first(tmp_path: Path) -> SelfSignedFiles:
    return ensure_self_signed(tmp_path / "first", NAMES, datetime.now(UTC))


@pytest.fixture
def second(tmp_path: Path) -> SelfSignedFiles:
    """Another CA's files, to replace the first's with."""
    return ensure_self_signed(tmp_path / "second", NAMES, datetime.now(UTC))


@pytest.fixture
def live(tmp_path: Path, first: SelfSignedFiles) -> ServerCertificates:
    """Certificates read from copies of the first files, which the tests replace."""
    files = CertificateFiles(tmp_path / "server.pem", tmp_path / "server-key.pem")
    replace_files(files, first)
    return ServerCertificates(files)


def replace_files(files: CertificateFiles, source: SelfSignedFiles) -> None:
    shutil.copyfile(source.server.certificate, files.certificate)
    shutil.copyfile(source.server.key, files.key)


@pytest.fixture
async def port(live: ServerCertificates) -> AsyncIterator[int]:
    """A TLS server on loopback as the server makes it (relayed, `live.current` at each handshake): it answers
    every request with `ok`."""

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/", answer)
    runner = BoundedAppRunner(
        app, header_timeout=10, idle_timeout=10, body_timeout=10, max_connections=10, tls=live.current
    )
    await runner.setup()
    [sock] = runner.listening_sockets("127.0.0.1", 0, reuse_port=False)
    await web.SockSite(runner, sock).start()
    yield sock.getsockname()[1]
    await runner.cleanup()


async def connect(
    port: int, ca: Path, server_hostname: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = ssl.create_default_context(cafile=str(ca))
    if server_hostname is None:
        context.check_hostname = False  # an address: no SNI is sent, the callback must run all the same
    return await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=server_hostname)


async def hang_up(writer: asyncio.StreamWriter) -> None:
    """Close a TLS connection and wait for its transport to be gone."""
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


def served_fingerprint(writer: asyncio.StreamWriter) -> str:
    ssl_object = writer.get_extra_info("ssl_object")
    return hashlib.sha256(ssl_object.getpeercert(binary_form=True)).hexdigest()


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """The body of a GET / on the connection."""
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return await reader.readexactly(length)


async def test_a_handshake_gets_the_files_certificate_with_sni_and_without(
    port: int, live: ServerCertificates, first: SelfSignedFiles
) -> None:
    for server_hostname in ("localhost", None):
        reader, writer = await connect(port, first.ca, server_hostname)
        assert served_fingerprint(writer) == live.summary.sha256
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() is None  # the client offered none
        assert await ask(reader, writer) == b"ok\n"
        await hang_up(writer)


async def test_a_reload_serves_new_connections_the_new_certificate_and_keeps_open_ones(
    port: int, live: ServerCertificates, first: SelfSignedFiles, second: SelfSignedFiles
) -> None:
    old_reader, old_writer = await connect(port, first.ca, "localhost")
    old_fingerprint = served_fingerprint(old_writer)

    replace_files(live.files, second)
    live.reload()

    new_reader, new_writer = await connect(port, second.ca, "localhost")
    assert served_fingerprint(new_writer) == live.summary.sha256 != old_fingerprint
    assert await ask(new_reader, new_writer) == b"ok\n"
    assert await ask(old_reader, old_writer) == b"ok\n"  # the connection opened before goes on
    assert served_fingerprint(old_writer) == old_fingerprint
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(port, first.ca, "localhost")  # the old CA does not verify the new certificate
    for writer in (old_writer, new_writer):
        await hang_up(writer)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("garbage certificate", "holds no PEM certificate"),
        ("missing key", "cannot read the key file"),
        ("key of another certificate", "does not hold the key of the certificate"),
    ],
)
async def test_a_bad_replacement_keeps_the_old_certificate_serving_with_a_warning(
    port: int,
    live: ServerCertificates,
    first: SelfSignedFiles,
    second: SelfSignedFiles,
    damage: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = live.summary
    if damage == "garbage certificate":
        live.files.certificate.write_text("not a certificate\n")
    elif damage == "missing key":
        live.files.key.unlink()
    else:
        shutil.copyfile(second.server.key, live.files.key)

    with caplog.at_level(logging.WARNING, logger="pullcache.tls.contexts"):
        live.reload()

    assert live.summary == before
    [record] = caplog.records
    assert record.getMessage() == "kept the TLS certificate serving: the files do not load"
    assert reason in record.__dict__["fields"]["reason"]
    _reader, writer = await connect(port, first.ca, "localhost")
    assert served_fingerprint(writer) == before.sha256
    await hang_up(writer)


def test_the_contexts_refuse_tls_before_1_2_and_offer_http_1_1(live: ServerCertificates) -> None:
    context = live.current()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_CIPHER_SERVER_PREFERENCE


async def test_alpn_selects_http_1_1(port: int, first: SelfSignedFiles) -> None:
    context = ssl.create_default_context(cafile=str(first.ca))
    context.set_alpn_protocols(["h2", "http/1.1"])
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
    assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
    await hang_up(writer)


def test_files_that_do_not_load_at_first_are_one_error_naming_the_file(
    tmp_path: Path, first: SelfSignedFiles, second: SelfSignedFiles
) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsSetupError, match=f"cannot read the certificate file {missing}: No such file"):
        ServerCertificates(CertificateFiles(missing, first.server.key))
    with pytest.raises(TlsSetupError, match=f"the key file {second.server.key} does not hold the key of"):
        ServerCertificates(CertificateFiles(first.server.certificate, second.server.key))
    with pytest.raises(TlsSetupError, match="holds no PEM private key"):
        ServerCertificates(CertificateFiles(first.server.certificate, first.server.certificate))


def test_an_encrypted_key_is_refused_without_asking_for_a_password(tmp_path: Path, first: SelfSignedFiles) -> None:
    key = serialization.load_pem_private_key(first.server.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )

    with pytest.raises(TlsSetupError, match="is encrypted: give it unencrypted"):
        ServerCertificates(CertificateFiles(first.server.certificate, encrypted))
