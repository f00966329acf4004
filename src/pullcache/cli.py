"""The `pullcache` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

from pullcache import __version__, gc_command
from pullcache.audit import command as audit_command
from pullcache.auth import accounts
from pullcache.auth.accounts import AccountError
from pullcache.config import ConfigError, Settings
from pullcache.core.scopes import RegistryScope
from pullcache.server_lock import DataDirInUse
from pullcache.warming import command as warming

# The server, the database and the admin commands are imported by the commands that use them: importing them all
# took seconds, which every command - `--help`, `warm`, `doctor` - paid before doing anything.


def serve(settings: Settings) -> None:
    """Run the server (`pullcache serve`)."""
    from pullcache.server import serve as run_server

    run_server(settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        _serve(arguments.command_parser, arguments)
    elif arguments.command == "accounts":
        _create_account(arguments.command_parser, arguments)
    elif arguments.command == "rules":
        _rules(arguments.command_parser, arguments)
    elif arguments.command == "doctor":
        _doctor(arguments.command_parser, arguments)
    elif arguments.command == "repositories":
        _repositories(arguments.command_parser, arguments)
    elif arguments.command == "warm":
        _warm(arguments.command_parser, arguments)
    elif arguments.command == "gc":
        gc_command.run(arguments.command_parser, arguments)
    elif arguments.command == "audit":
        audit_command.run(arguments.command_parser, arguments)
    else:
        parser.print_help()
        sys.exit(2)


def _serve(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    try:
        settings = Settings(
            host=arguments.host,
            port=arguments.port,
            data_dir=Path(arguments.data_dir),
            workers=arguments.workers,
            database_url=arguments.database_url,
            max_manifest_bytes=arguments.max_manifest_bytes,
            log_level=arguments.log_level,
            shutdown_timeout=arguments.shutdown_timeout,
            header_timeout=arguments.header_timeout,
            idle_timeout=arguments.idle_timeout,
            body_timeout=arguments.body_timeout,
            max_connections=arguments.max_connections,
            upload_expiry=arguments.upload_expiry,
            gc_interval=arguments.gc_interval,
            gc_grace=arguments.gc_grace,
            cache_max_bytes=arguments.cache_max_bytes,
            cache_min_free_bytes=arguments.cache_min_free_bytes,
            eviction_interval=arguments.eviction_interval,
            lifecycle_interval=arguments.lifecycle_interval,
            pull_flush_interval=arguments.pull_flush_interval,
            record_pulls=not arguments.no_pull_records,
            audit_max_bytes=arguments.audit_max_bytes,
            audit_keep=arguments.audit_keep,
            audit_pulls=arguments.audit_pulls,
            account_id=arguments.account_id,
            region=arguments.region,
            public_host=arguments.public_host,
            registry_domain=arguments.registry_domain,
            docker_hub_mirror=arguments.docker_hub_mirror,
            docker_hub_mirror_port=arguments.docker_hub_mirror_port,
            root_access_key_id=os.environ.get("PULLCACHE_ROOT_ACCESS_KEY_ID"),
            root_secret_access_key=os.environ.get("PULLCACHE_ROOT_SECRET_ACCESS_KEY"),
            anonymous_registry=arguments.anonymous_registry,
            tag_ttl=arguments.tag_ttl,
            prefetch_platforms=arguments.prefetch_platforms,
            upstream_connect_timeout=arguments.upstream_connect_timeout,
            upstream_first_byte_timeout=arguments.upstream_first_byte_timeout,
            upstream_idle_timeout=arguments.upstream_idle_timeout,
            upstream_request_timeout=arguments.upstream_request_timeout,
            upstream_tag_check_timeout=arguments.upstream_tag_check_timeout,
            upstream_breaker_failures=arguments.upstream_breaker_failures,
            upstream_breaker_cooldown=arguments.upstream_breaker_cooldown,
            upstream_allow=_destination_list(arguments.upstream_allow, "PULLCACHE_UPSTREAM_ALLOW"),
            upstream_deny=_destination_list(arguments.upstream_deny, "PULLCACHE_UPSTREAM_DENY"),
            metrics_port=arguments.metrics_port,
            metrics_token=arguments.metrics_token,
            tls=arguments.tls,
            tls_cert=Path(arguments.tls_cert) if arguments.tls_cert else None,
            tls_key=Path(arguments.tls_key) if arguments.tls_key else None,
            tls_names=tuple(name.strip() for name in (arguments.tls_names or "").split(",") if name.strip()),
        )
    except ConfigError as error:
        parser.error(str(error))
    from pullcache.server import CannotStart

    try:
        serve(settings)
    except (CannotStart, DataDirInUse) as error:
        sys.exit(f"pullcache serve: {error}")


def _destination_list(given: list[str] | None, variable: str) -> tuple[str, ...]:
    """The entries of a repeatable, comma-separated flag; without the flag, those of its environment twin."""
    values = given if given is not None else [os.environ.get(variable, "")]
    return tuple(entry.strip() for value in values for entry in value.split(",") if entry.strip())


def _create_account(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """`pullcache accounts create`: prints where the account's files are, never the secret."""
    from pullcache import admin

    try:
        created = admin.create_account(
            Path(arguments.data_dir),
            arguments.account_id,
            database_url=arguments.database_url,
            region=arguments.region,
            endpoint_url=arguments.endpoint_url,
        )
    except (AccountError, ConfigError) as error:
        parser.error(str(error))
    state = "created" if created.key_created else "already there"
    credentials, config = created.credentials_file.resolve(), created.config_file.resolve()
    print(f"account {created.account_id}: root access key {created.access_key_id} ({state})")
    print(f"credentials: {credentials}")
    print(f"config: {config}")
    print(
        f"use it with: AWS_SHARED_CREDENTIALS_FILE={credentials} AWS_CONFIG_FILE={config} aws sts get-caller-identity"
    )


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose refusals are one line (its subcommands' too), pointing at --help for the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="pullcache", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pullcache {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="run the registry")
    serve_parser.set_defaults(command_parser=serve_parser)
    defaults = Settings()

    def option(flag: str, kind: type, default: object, help_text: str) -> None:
        variable = "PULLCACHE_" + flag.removeprefix("--").replace("-", "_").upper()
        value = os.environ.get(variable)
        serve_parser.add_argument(
            flag,
            type=kind,
            default=value if value is not None else default,  # argparse converts a string default, or says why not
            help=f"{help_text} (env {variable}; default %(default)s)",
        )

    def switch(flag: str, help_text: str) -> None:
        """A flag that is off unless given, or its environment twin says 1, true or yes."""
        variable = "PULLCACHE_" + flag.removeprefix("--").replace("-", "_").upper()
        on = os.environ.get(variable, "").lower() in ("1", "true", "yes")
        serve_parser.add_argument(flag, action="store_true", default=on, help=f"{help_text} (env {variable})")

    option("--host", str, defaults.host, "address to listen on")
    option("--port", int, defaults.port, "port to listen on")
    option("--data-dir", str, str(defaults.data_dir), "directory for blobs and the embedded database")
    option("--workers", int, defaults.workers, "worker processes sharing the port")
    option("--database-url", str, defaults.database_url, "SQLAlchemy URL of the metadata database")
    option("--max-manifest-bytes", int, defaults.max_manifest_bytes, "largest manifest accepted")
    option("--log-level", str, defaults.log_level, "debug, info, warning or error")
    option("--shutdown-timeout", float, defaults.shutdown_timeout, "seconds in-flight requests get on stop")
    option("--header-timeout", float, defaults.header_timeout, "seconds a request's headers may take to arrive")
    option("--idle-timeout", float, defaults.idle_timeout, "seconds a connection may wait for its next request")
    option("--body-timeout", float, defaults.body_timeout, "seconds a request body may fall silent")
    option("--max-connections", int, defaults.max_connections, "connections a worker holds (0: from the file limit)")
    option("--upload-expiry", float, defaults.upload_expiry, "seconds before an unfinished upload is discarded")
    option("--gc-interval", float, defaults.gc_interval, "seconds between garbage collections (0: never)")
    option("--gc-grace", float, defaults.gc_grace, "seconds a blob no manifest names is kept after its upload")
    option("--cache-max-bytes", int, defaults.cache_max_bytes, "bytes the pull-through cache may hold (0: no cap)")
    option(
        "--cache-min-free-bytes",
        int,
        defaults.cache_min_free_bytes,
        "free bytes to keep on the data dir's disk by evicting cached images (0: none)",
    )
    option("--eviction-interval", float, defaults.eviction_interval, "seconds between checks of the cache's size")
    option(
        "--lifecycle-interval",
        float,
        defaults.lifecycle_interval,
        "seconds between applications of the repositories' lifecycle policies (0: never)",
    )
    option("--pull-flush-interval", float, defaults.pull_flush_interval, "seconds between writes of recorded pulls")
    option("--audit-max-bytes", int, defaults.audit_max_bytes, "size past which the audit file is rotated")
    option("--audit-keep", int, defaults.audit_keep, "rotated audit files kept")
    option("--account-id", str, defaults.account_id, "the 12-digit account created on first start")
    option("--region", str, defaults.region, "default region of the AWS APIs and the registry")
    option("--public-host", str, defaults.public_host, "host[:port] of the registry in the URIs the server hands out")
    option("--registry-domain", str, defaults.registry_domain, "domain of <account>.dkr.ecr.<region>.<domain> hosts")
    option(
        "--docker-hub-mirror",
        str,
        defaults.docker_hub_mirror,
        "prefix of the pull-through cache rule that serves Docker's registry-mirrors on --docker-hub-mirror-port",
    )
    option(
        "--docker-hub-mirror-port",
        int,
        defaults.docker_hub_mirror_port,
        "port for Docker's registry-mirrors: every name is Docker Hub's, /v2/ answers without credentials",
    )
    option("--tag-ttl", float, defaults.tag_ttl, "seconds a new pull-through rule trusts a cached tag (0: never)")
    option("--upstream-connect-timeout", float, defaults.upstream_connect_timeout, "seconds to connect to an upstream")
    option(
        "--upstream-first-byte-timeout",
        float,
        defaults.upstream_first_byte_timeout,
        "seconds an upstream may take to start answering a request",
    )
    option("--upstream-idle-timeout", float, defaults.upstream_idle_timeout, "seconds an upstream body may stall")
    option(
        "--upstream-request-timeout",
        float,
        defaults.upstream_request_timeout,
        "seconds for a whole upstream request with its retries (a blob's body: the idle bound alone)",
    )
    option(
        "--upstream-tag-check-timeout",
        float,
        defaults.upstream_tag_check_timeout,
        "seconds a cached tag's upstream check may take before the cached copy is served",
    )
    option(
        "--upstream-breaker-failures",
        int,
        defaults.upstream_breaker_failures,
        "upstream failures in a row after which it is not asked for the cool-down",
    )
    option(
        "--upstream-breaker-cooldown",
        float,
        defaults.upstream_breaker_cooldown,
        "seconds a failing upstream is not asked before one request probes it",
    )
    option("--metrics-port", int, defaults.metrics_port, "serve /metrics on this port only (default: the API's port)")
    option("--tls-cert", str, defaults.tls_cert, "serve HTTPS with this PEM certificate (its chain after it)")
    option("--tls-key", str, defaults.tls_key, "the PEM key of --tls-cert, unencrypted (SIGHUP reloads both)")
    option(
        "--tls",
        str,
        defaults.tls,
        "off, or self-signed: serve HTTPS with a certificate of a local CA kept in <data-dir>/tls (trust its ca.pem)",
    )
    option(
        "--tls-names",
        str,
        None,
        "comma-separated host names and addresses of the self-signed certificate "
        "(default: localhost, 127.0.0.1, ::1, this host's name, --host, --public-host)",
    )
    serve_parser.add_argument(  # not through option(): the help would print the token the variable holds
        "--metrics-token",
        default=os.environ.get("PULLCACHE_METRICS_TOKEN"),
        help="Bearer token a scrape of /metrics must present (env PULLCACHE_METRICS_TOKEN, better than the flag: "
        "a command line is public; default: none)",
    )
    for flag, help_text in (
        ("--upstream-allow", "the only upstream destinations allowed (none given: any not denied)"),
        ("--upstream-deny", "upstream destinations refused, whatever the allow list says"),
    ):
        variable = "PULLCACHE_" + flag.removeprefix("--").replace("-", "_").upper()
        serve_parser.add_argument(
            flag,
            action="append",
            metavar="CIDR|HOST",
            help=f"{help_text}: CIDRs, addresses, host names or *.domain, repeatable or comma-separated; "
            f"link-local addresses are denied unless allowed (env {variable}, comma-separated)",
        )
    switch("--prefetch-platforms", "fetch every platform of a multi-platform image pulled through the cache")
    switch(
        "--no-pull-records",
        "record no pulls: no lastRecordedPullTime, no pull counts; for measuring what recording costs",
    )
    switch("--audit-pulls", "write pulls to the audit trail too, not only the calls that change something")
    switch(
        "--anonymous-registry", "let /v2/ requests without credentials act as the account's root user; for labs only"
    )
    _add_accounts_commands(commands, defaults)
    _add_rules_commands(commands, defaults)
    _add_warm_command(commands)
    _add_doctor_command(commands, defaults)
    _add_repositories_command(commands, defaults)
    _add_store_arguments(gc_command.add_gc_command(commands, defaults), defaults)
    audit_command.add_audit_command(commands, str(defaults.data_dir))
    return parser


def _add_accounts_commands(commands: argparse._SubParsersAction[OneLineErrors], defaults: Settings) -> None:
    accounts_parser = commands.add_parser("accounts", help="manage accounts (safe while the server runs)")
    accounts_commands = accounts_parser.add_subparsers(dest="accounts_command", metavar="COMMAND", required=True)
    create = accounts_commands.add_parser(
        "create",
        help="create an account and its root access key, and write its credentials and config files",
        description="Create the account (if new) and its root access key (if it has none), and write "
        "<data-dir>/accounts/<account id>/credentials (mode 0600) and config for the AWS tools.",
    )
    create.set_defaults(command_parser=create)
    create.add_argument("account_id", metavar="ACCOUNT_ID", help="the account's 12-digit id")
    _add_store_arguments(create, defaults)
    create.add_argument("--region", help="the config file's region (default: that of <data-dir>/config)")
    create.add_argument(
        "--endpoint-url", help="where the AWS tools reach the server (default: that of <data-dir>/config)"
    )


def _rules(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """`pullcache rules list` and `pullcache rules set-tag-ttl`."""
    from pullcache import admin

    data_dir = Path(arguments.data_dir)
    try:
        scope = _scope(data_dir, arguments)
        if arguments.rules_command == "list":
            found = admin.list_rules(data_dir, scope, database_url=arguments.database_url)
        else:
            found = [
                admin.set_tag_ttl(
                    data_dir,
                    scope,
                    arguments.prefix,
                    timedelta(seconds=arguments.seconds),
                    database_url=arguments.database_url,
                )
            ]
    except (AccountError, admin.RuleNotFound, admin.NoDatabase, ValueError) as error:
        parser.error(str(error))
    for rule in found:
        print(f"{rule.prefix}\t{rule.upstream_url}\ttag TTL {int(rule.tag_ttl.total_seconds())} s")


def _add_rules_commands(commands: argparse._SubParsersAction[OneLineErrors], defaults: Settings) -> None:
    rules_parser = commands.add_parser(
        "rules", help="pull-through cache rules: what ECR's API does not show (safe while the server runs)"
    )
    rules_commands = rules_parser.add_subparsers(dest="rules_command", metavar="COMMAND", required=True)
    listing = rules_commands.add_parser("list", help="list the rules of an account and region with their tag TTL")
    ttl = rules_commands.add_parser(
        "set-tag-ttl",
        help="set how long one rule serves a cached tag before asking its upstream again (0: every pull)",
    )
    ttl.add_argument("prefix", metavar="PREFIX", help="the rule's ecrRepositoryPrefix")
    ttl.add_argument("seconds", metavar="SECONDS", type=float, help="the new TTL in seconds")
    for command in (listing, ttl):
        command.set_defaults(command_parser=command)
        _add_scope_arguments(command, defaults)


def _repositories(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """`pullcache repositories`: each repository's images, pull count and last pull."""
    from pullcache import admin

    data_dir = Path(arguments.data_dir)
    try:
        found = admin.list_repositories(data_dir, _scope(data_dir, arguments), database_url=arguments.database_url)
    except (AccountError, admin.NoDatabase) as error:
        parser.error(str(error))
    for usage in found:
        last_pull = usage.last_pull.isoformat(timespec="seconds") if usage.last_pull is not None else "never"
        print(f"{usage.name}\t{usage.images} images\t{usage.pulls} pulls\tlast pull {last_pull}")


def _add_repositories_command(commands: argparse._SubParsersAction[OneLineErrors], defaults: Settings) -> None:
    command = commands.add_parser(
        "repositories",
        help="list the repositories of an account and region with their images, pull count and last pull "
        "(safe while the server runs)",
        description="Each repository's images, the pulls it served (ECR's API has no field for it) and its last "
        "recorded pull, as the server last wrote them: pulls are written every --pull-flush-interval seconds.",
    )
    command.set_defaults(command_parser=command)
    _add_scope_arguments(command, defaults)


def _doctor(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """`pullcache doctor`: one line per check; exits 1 when any check fails."""
    from pullcache import doctor

    data_dir = Path(arguments.data_dir) if arguments.data_dir else None
    try:
        target = doctor.find_target(arguments.endpoint, data_dir)
    except AccountError as error:
        parser.error(str(error))
    results = doctor.run_checks(target)
    for result in results:
        print(result.line())
    sys.exit(1 if any(result.status is doctor.Status.FAIL for result in results) else 0)


def _add_doctor_command(commands: argparse._SubParsersAction[OneLineErrors], defaults: Settings) -> None:
    command = commands.add_parser(
        "doctor",
        help="check a running server: health, readiness, clock skew, TLS, free space, credentials",
        description="Check a running server from this machine and print one line per check, OK, WARN or FAIL "
        "with the reason; exit 1 when any check fails.",
    )
    command.set_defaults(command_parser=command)
    command.add_argument(
        "--endpoint",
        help=f"the server's URL (default: the endpoint_url of <data-dir>/config, else {defaults.endpoint_url})",
    )
    command.add_argument(
        "--data-dir",
        default=os.environ.get("PULLCACHE_DATA_DIR"),
        help="the server's data directory, for its config, root key and free space (env PULLCACHE_DATA_DIR)",
    )


def _warm(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """`pullcache warm`: exits 0 when every image warmed, 1 when one failed, 2 when nothing could be pulled."""
    request = warming.WarmRequest(
        images=tuple(arguments.images),
        list_file=arguments.file,
        platforms=tuple(arguments.platform or ()),
        all_platforms=arguments.all_platforms,
        concurrency=arguments.concurrency,
        endpoint=arguments.endpoint,
        profile=arguments.profile,
    )
    try:
        status = warming.warm(request)
    except warming.WarmInputError as error:
        parser.error(str(error))
    except warming.WarmCannotStart as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


def _add_warm_command(commands: argparse._SubParsersAction[OneLineErrors]) -> None:
    command = commands.add_parser(
        "warm",
        help="pull images through a running cache's rules, so that later pulls are warm",
        description="Pull each image through the server's /v2/ as a client does, with the AWS credentials "
        "(environment, --profile, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE): its manifest, the platforms "
        "asked, and every blob read to its end. A bar per image on a terminal, then a summary of the bytes the "
        "upstream sent and those already cached. Exit 0: every image warmed; 1: one failed; 2: nothing pulled.",
    )
    command.set_defaults(command_parser=command)
    command.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="host:port/prefix/repo:tag or ...@sha256:...; without host:port, the image is on the endpoint",
    )
    command.add_argument("--file", metavar="LIST", help="a file of images, one a line (# comments; -: stdin)")
    platforms = command.add_mutually_exclusive_group()
    platforms.add_argument(
        "--platform",
        action="append",
        metavar="OS/ARCH[/VARIANT]",
        help="the platform of a multi-platform image to pull, repeatable (default: this machine's linux one)",
    )
    platforms.add_argument("--all-platforms", action="store_true", help="pull every platform of an index")
    command.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=warming.DEFAULT_CONCURRENCY,
        help="requests (and images) under way at once (default %(default)s)",
    )
    command.add_argument(
        "--endpoint",
        metavar="URL",
        help="the server's URL, for GetAuthorizationToken and images named without a host "
        "(default: the profile's endpoint_url, as in the config file pullcache writes)",
    )
    command.add_argument(
        "--profile", help="the AWS profile whose credentials log in (default: AWS_PROFILE, else default)"
    )


def _add_scope_arguments(command: argparse.ArgumentParser, defaults: Settings) -> None:
    """--account-id and --region (the registry scope a command works on), and where it finds the data."""
    command.add_argument(
        "--account-id",
        default=os.environ.get("PULLCACHE_ACCOUNT_ID", defaults.account_id),
        help="the account (env PULLCACHE_ACCOUNT_ID; default %(default)s)",
    )
    command.add_argument("--region", help="the region (default: that of <data-dir>/config)")
    _add_store_arguments(command, defaults)


def _scope(data_dir: Path, arguments: argparse.Namespace) -> RegistryScope:
    """The registry scope --account-id and --region name (the region defaulting to that of <data-dir>/config).
    Raises AccountError."""
    region = arguments.region or accounts.read_client_defaults(data_dir).region or Settings().region
    accounts.check_account_id(arguments.account_id)
    accounts.check_region(region)
    return RegistryScope(arguments.account_id, region)


def _add_store_arguments(command: argparse.ArgumentParser, defaults: Settings) -> None:
    """--data-dir and --database-url: where a command finds the server's data."""
    command.add_argument(
        "--data-dir",
        default=os.environ.get("PULLCACHE_DATA_DIR", str(defaults.data_dir)),
        help="the server's data directory (env PULLCACHE_DATA_DIR; default %(default)s)",
    )
    command.add_argument(
        "--database-url",
        default=os.environ.get("PULLCACHE_DATABASE_URL", defaults.database_url),
        help="SQLAlchemy URL of the metadata database (env PULLCACHE_DATABASE_URL; default: SQLite in the data dir)",
    )
