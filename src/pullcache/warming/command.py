"""`pullcache warm`: read the images asked for, log in, pull them all through the cache, and say how it went.

    exit 0   every image warmed
    exit 1   some image failed (the summary says which, with the registry's error code and message)
    exit 2   nothing was pulled: bad arguments (WarmInputError), or the registry could not be reached or refused
             the credentials (WarmCannotStart); one line says why

The pulls themselves are warmer.py's; this module reads the arguments, logs in, and prints.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import aiohttp

from pullcache.auth.accounts import AccountError, check_endpoint_url
from pullcache.warming.client import RegistryClient, RegistryRefused, RegistryUnreachable
from pullcache.warming.login import LoginFailed, read_profile, registry_authorization
from pullcache.warming.platforms import InvalidPlatform, host_platform, parse_platform
from pullcache.warming.progress import OutcomeLines, TerminalBars, render_summary
from pullcache.warming.references import ImageReference, InvalidImageReference, parse_image_reference
from pullcache.warming.warmer import ImageTally, PlatformChoice, Warmer

DEFAULT_CONCURRENCY = 4
_CONNECT_TIMEOUT = 30.0
_READ_TIMEOUT = 300.0  # seconds a body may fall silent: an upstream's slow first byte included


class WarmInputError(ValueError):
    """The arguments cannot be acted on: a list that cannot be read, a malformed reference or platform."""


class WarmCannotStart(Exception):
    """The registry cannot be reached, or will not take the credentials: nothing was pulled."""


@dataclass(frozen=True, slots=True)
class WarmRequest:
    images: tuple[str, ...]
    list_file: str | None = None  # one image a line; blank lines and # comments skipped; "-": standard input
    platforms: tuple[str, ...] = ()
    all_platforms: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    endpoint: str | None = None
    profile: str | None = None


def warm(request: WarmRequest, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    """Run the command; returns its exit status. Raises WarmInputError and WarmCannotStart."""
    images = _images(request)
    choice = _choice(request)
    if request.concurrency < 1:
        raise WarmInputError(f"--concurrency must be at least 1, not {request.concurrency}")
    if request.endpoint is not None:
        _check_endpoint(request.endpoint)
    try:
        profile = read_profile(request.profile, request.endpoint)
    except LoginFailed as error:
        raise WarmInputError(str(error)) from None
    if profile.endpoint_url is not None:
        _check_endpoint(profile.endpoint_url)
    bases = {image: _registry_url(image, profile.endpoint_url) for image in images}
    authorizations: dict[str, str | None] = {}
    for base in dict.fromkeys(bases.values()):
        try:
            authorizations[base] = registry_authorization(profile, profile.endpoint_url or base)
        except LoginFailed as error:
            raise WarmCannotStart(str(error)) from None
    verifying = _verifying(profile.ca_bundle)
    progress = TerminalBars(stderr, _terminal_width) if stderr.isatty() else OutcomeLines(stderr)
    outcome = asyncio.run(_pull(images, bases, authorizations, choice, request.concurrency, progress, verifying))
    tallies, warmer = outcome
    progress.close()
    stdout.write("".join(f"{line}\n" for line in render_summary(tallies, warmer.totals)))
    return 0 if all(tally.failure is None for tally in tallies) else 1


async def _pull(
    images: Sequence[ImageReference],
    bases: dict[ImageReference, str],
    authorizations: dict[str, str | None],
    choice: PlatformChoice,
    concurrency: int,
    progress: TerminalBars | OutcomeLines,
    verifying: ssl.SSLContext | bool,
) -> tuple[list[ImageTally], Warmer]:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT, sock_read=_READ_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency + 1, ssl=verifying)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=False) as session:
        clients = {base: RegistryClient(session, base, authorization) for base, authorization in authorizations.items()}
        for client in clients.values():
            await _check(client)
        warmer = Warmer(lambda image: clients[bases[image]], choice, progress, concurrency)
        return await warmer.warm(images), warmer


async def _check(client: RegistryClient) -> None:
    try:
        await client.check()
    except RegistryUnreachable as error:
        raise WarmCannotStart(f"cannot reach the registry at {client.base_url}: {error}") from None
    except RegistryRefused as refused:
        raise WarmCannotStart(
            f"the registry at {client.base_url} refused the credentials: {refused} (HTTP {refused.status})"
        ) from None


def _verifying(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """How https registries are verified: with the profile's CA bundle, else (True) the system's CAs. Raises
    WarmInputError for a bundle that does not load."""
    if ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise WarmInputError(f"cannot load the CA bundle {ca_bundle}: {error.strerror or error}") from None


def _images(request: WarmRequest) -> list[ImageReference]:
    texts = list(request.images)
    if request.list_file is not None:
        texts.extend(_read_list(request.list_file))
    if not texts:
        raise WarmInputError("name at least one image, or a list of them with --file")
    try:
        parsed = [parse_image_reference(text) for text in texts]
    except InvalidImageReference as error:
        raise WarmInputError(str(error)) from None
    return list(dict.fromkeys(parsed))  # each image once, in the order first given


def _read_list(name: str) -> list[str]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise WarmInputError(f"cannot read the image list {name}: {reason}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _choice(request: WarmRequest) -> PlatformChoice:
    if request.all_platforms:
        return PlatformChoice((), every=True)
    try:
        platforms = tuple(parse_platform(text) for text in request.platforms) or (host_platform(),)
    except InvalidPlatform as error:
        raise WarmInputError(str(error)) from None
    return PlatformChoice(tuple(dict.fromkeys(platforms)))


def _check_endpoint(url: str) -> None:
    try:
        check_endpoint_url(url)
    except AccountError as error:
        raise WarmInputError(str(error)) from None


def _registry_url(image: ImageReference, endpoint: str | None) -> str:
    """Where /v2/ of the image's registry is: its host, with the endpoint's scheme (plain HTTP without one: the
    server speaks no TLS itself); an image without a host is on the endpoint."""
    if image.host is None:
        if endpoint is None:
            raise WarmInputError(
                f"{image} names no registry host, and no endpoint is configured "
                "(--endpoint, or endpoint_url in the AWS config)"
            )
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    scheme = urlsplit(endpoint).scheme if endpoint is not None else "http"
    return f"{scheme}://{image.host}"


def _terminal_width() -> int:
    return shutil.get_terminal_size().columns
