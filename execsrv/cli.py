"""``python -m execsrv``: the command line.

``serve`` runs the server; in websocket mode the first stdout line is the
bound URL and nothing else goes to stdout. Logs go to stderr. ``exec`` and
``shell`` are clients (see :mod:`.remote_cli`). ``doctor`` checks that this
host can enforce sandboxed starts (see :mod:`.sandbox.doctor`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
from collections.abc import Sequence
from dataclasses import fields

import trio

from .envflags import EnvironmentParser
from .logs import LOG_FORMATS, configure_logging
from .process.reaper import adopting_orphans
from .remote_cli import add_remote_commands, run_remote_command
from .server import ConfigError, ExecServer, ServerConfig, parse_listen, serve
from .server.drain import EXIT_PROCESSES_CUT
from .server.notify import ServiceNotifier
from .server.security import normalize_origin

__all__ = ["main"]

log = logging.getLogger("execsrv.server")

DEFAULTS = ServerConfig()

SERVE_ENV_PREFIX = "EXECSRV_"
"""Every ``serve`` option also reads ``EXECSRV_<OPTION>`` (see :mod:`.envflags`)."""


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _origin(text: str) -> str:
    try:
        return normalize_origin(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _AppendTuple(argparse._AppendAction):
    """Like ``append``, into a tuple (``ServerConfig`` is frozen and hashable)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, (*getattr(namespace, self.dest, ()), values))


def _ca_file(path: str) -> str:
    try:
        ssl.create_default_context().load_verify_locations(path)
    except (OSError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"cannot load CA certificates: {error}") from None
    return path


def _listen(text: str) -> str:
    try:
        parse_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m execsrv",
        description="execsrv: a codex-compatible exec-server and client.",
    )
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=EnvironmentParser,  # only `serve` gives an env_prefix
    )
    serve_parser = commands.add_parser(
        "serve",
        env_prefix=SERVE_ENV_PREFIX,
        help="run the server",
        description=(
            "Run the exec-server. In websocket mode the first line on stdout is the "
            "bound URL (port 0 picks a free port); logs go to stderr."
        ),
    )
    serve_parser.add_argument(
        "--listen",
        type=_listen,
        default=DEFAULTS.listen,
        metavar="URL",
        help="ws://IP:PORT (an IP literal, not a host name) or stdio "
        "(newline-delimited JSON on stdin/stdout; stdin EOF stops the server). "
        f"Default: {DEFAULTS.listen}",
    )
    serve_parser.add_argument(
        "--session-ttl",
        type=_positive_float,
        default=DEFAULTS.session_ttl,
        metavar="SECONDS",
        help="how long a disconnected session and its processes wait to be resumed "
        f"(default {DEFAULTS.session_ttl:g})",
    )
    serve_parser.add_argument(
        "--retention-bytes",
        type=_positive_int,
        default=DEFAULTS.retention_bytes,
        metavar="BYTES",
        help="output retained per process for process/read; older chunks are evicted "
        f"and reads report truncated (default {DEFAULTS.retention_bytes})",
    )
    serve_parser.add_argument(
        "--reader-timeout",
        type=_positive_float,
        default=DEFAULTS.reader_timeout,
        metavar="SECONDS",
        help="a process read with process/read keeps what its reader has not read, "
        "holding the child back; after this long without a read, eviction resumes "
        f"(default {DEFAULTS.reader_timeout:g})",
    )
    serve_parser.add_argument(
        "--exited-retention",
        type=_positive_float,
        default=DEFAULTS.exited_retention,
        metavar="SECONDS",
        help="how long a closed process stays readable before its id is forgotten "
        f"(default {DEFAULTS.exited_retention:g})",
    )
    serve_parser.add_argument(
        "--exited-retention-bytes",
        type=_positive_int,
        default=DEFAULTS.exited_retention_bytes,
        metavar="BYTES",
        help="output kept by closed processes, all sessions together; past it the output "
        "of the processes closed longest ago is evicted first and reads report truncated "
        f"(default {DEFAULTS.exited_retention_bytes})",
    )
    serve_parser.add_argument(
        "--max-message-bytes",
        type=_positive_int,
        default=DEFAULTS.max_message_bytes,
        metavar="BYTES",
        help="largest inbound JSON-RPC message; a larger one closes a websocket, and "
        f"over stdio gets a parse error (default {DEFAULTS.max_message_bytes})",
    )
    serve_parser.add_argument(
        "--kill-grace",
        type=_positive_float,
        default=DEFAULTS.kill_grace,
        metavar="SECONDS",
        help="SIGTERM-to-SIGKILL grace for timeoutMs, session expiry and an immediate "
        f"shutdown (default {DEFAULTS.kill_grace:g})",
    )
    serve_parser.add_argument(
        "--shutdown-grace",
        type=_positive_float,
        default=DEFAULTS.shutdown_grace,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT the listeners close, then for up to this long requests "
        "in flight are answered and children get SIGTERM to exit; then what is left is "
        "cancelled and SIGKILLed. A second signal shuts down at once "
        f"(default {DEFAULTS.shutdown_grace:g})",
    )
    serve_parser.add_argument(
        "--ping-interval",
        type=_positive_float,
        default=DEFAULTS.ping_interval,
        metavar="SECONDS",
        help="send a websocket ping this often; 0 disables keepalive "
        f"(default {DEFAULTS.ping_interval:g})",
    )
    serve_parser.add_argument(
        "--pong-timeout",
        type=_positive_float,
        default=DEFAULTS.pong_timeout,
        metavar="SECONDS",
        help="a peer that has not answered a ping within this is disconnected and its "
        f"session detached (default {DEFAULTS.pong_timeout:g})",
    )
    serve_parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=DEFAULTS.log_level,
        help=f"stderr log verbosity (default {DEFAULTS.log_level})",
    )
    serve_parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=DEFAULTS.log_format,
        help="stderr log lines: text (`time level logger message key=value ...`) or json "
        "(one object per line: ts, level, logger, msg and the line's fields) "
        f"(default {DEFAULTS.log_format})",
    )
    serve_parser.add_argument(
        "--max-http-body-bytes",
        type=_positive_int,
        default=DEFAULTS.max_http_body_bytes,
        metavar="BYTES",
        help="largest http/request response body read whole (streamResponse false); a "
        "larger one fails the request (-32603). Streamed bodies are not limited "
        f"(default {DEFAULTS.max_http_body_bytes})",
    )
    serve_parser.add_argument(
        "--max-reply-bytes-in-flight",
        type=_positive_int,
        default=DEFAULTS.max_reply_bytes_in_flight,
        metavar="BYTES",
        help="bytes of large replies (fs/readFile results and buffered http/request "
        "bodies of 1 MiB or more as base64) in flight server-wide; more wait their turn "
        f"(default {DEFAULTS.max_reply_bytes_in_flight})",
    )
    serve_parser.add_argument(
        "--http-ca-file",
        type=_ca_file,
        default=DEFAULTS.http_ca_file,
        metavar="FILE",
        help="PEM CA certificates http/request trusts for https besides the system "
        "store (default: the system store only; SSL_CERT_FILE replaces it)",
    )
    security = serve_parser.add_argument_group(
        "security",
        "The server listens on loopback by default. A non-loopback --listen needs "
        "--auth-token-file (or --insecure-no-auth). Refused websocket handshakes get "
        "HTTP 400 (malformed), 401 (token), 403 (Origin), 404 (a path other than /) or "
        "503 (connection limit) before any JSON-RPC.",
    )
    security.add_argument(
        "--auth-token-file",
        default=DEFAULTS.auth_token_file,
        metavar="FILE",
        help="require `Authorization: Bearer <token>` on the websocket handshake, the token "
        "being this file's content without surrounding whitespace (read once at startup; "
        "an empty file is an error). Clients: execsrv.connect(url, token=...) or "
        "EXECSRV_TOKEN. Not used over stdio",
    )
    security.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=DEFAULTS.insecure_no_auth,
        help="allow a non-loopback --listen without --auth-token-file: anyone who can "
        "reach the port can run commands as this user",
    )
    security.add_argument(
        "--allow-origin",
        action=_AppendTuple,
        type=_origin,
        default=DEFAULTS.allow_origin,
        metavar="ORIGIN",
        help="let browsers from ORIGIN (scheme://host[:port], matched exactly, case "
        "aside) connect; repeatable; `*` allows every origin. A handshake with any other "
        "Origin header gets HTTP 403; clients that send no Origin (non-browsers) are "
        "not affected (default: none)",
    )
    security.add_argument(
        "--max-connections",
        type=_positive_int,
        default=DEFAULTS.max_connections,
        metavar="N",
        help="websocket connections at once; beyond it the handshake gets HTTP 503 "
        f"(default {DEFAULTS.max_connections})",
    )
    security.add_argument(
        "--handshake-timeout",
        type=_seconds,
        default=DEFAULTS.handshake_timeout,
        metavar="SECONDS",
        help="a new connection that has not sent its whole upgrade request by then is "
        f"closed (default {DEFAULTS.handshake_timeout:g})",
    )
    security.add_argument(
        "--max-pending-handshakes",
        type=_positive_int,
        default=DEFAULTS.max_pending_handshakes,
        metavar="N",
        help="connections still sending their upgrade request; one more closes the oldest. "
        "This and --max-connections are lowered at startup to fit the file descriptor "
        f"limit (default {DEFAULTS.max_pending_handshakes})",
    )
    security.add_argument(
        "--max-sessions",
        type=_positive_int,
        default=DEFAULTS.max_sessions,
        metavar="N",
        help="live sessions, attached or detached within --session-ttl; an initialize "
        "creating one more first ends the longest-detached session without a running "
        "process, else answers -32600 `session limit reached (N)` "
        f"(default {DEFAULTS.max_sessions})",
    )
    security.add_argument(
        "--max-processes-per-session",
        type=_positive_int,
        default=DEFAULTS.max_processes_per_session,
        metavar="N",
        help="running processes per session (started and not yet closed; exited ones "
        "kept readable for --exited-retention do not count); process/start beyond it "
        f"answers -32600 `process limit reached (N)` (default "
        f"{DEFAULTS.max_processes_per_session})",
    )
    serve_parser.add_argument(
        "--metrics",
        action="store_true",
        default=DEFAULTS.metrics,
        help="serve Prometheus metrics at GET /metrics on the websocket port, behind "
        "--auth-token-file's token when one is set (needs `pip install 'execsrv[metrics]'`)",
    )
    _add_drain_flags(serve_parser)
    add_remote_commands(commands)
    doctor_parser = commands.add_parser(
        "doctor",
        help="check that this host can run sandboxed commands",
        description=(
            "Report the kernel's Landlock ABI, seccomp, mount namespaces and identity, "
            "then start a command confined to a workspace-write profile as the server "
            "does. Exits 0 only if that works; otherwise 1, with a line per problem."
        ),
    )
    doctor_parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return parser


def _add_drain_flags(serve_parser: argparse.ArgumentParser) -> None:
    drain = serve_parser.add_argument_group(
        "probes and drain",
        "The websocket port also answers plain HTTP GET /readyz (200 while new sessions "
        "are taken, else 503 with the reason) and GET /healthz (200 while the server "
        "runs), without a token. Exit status: 0; 2 if the configuration is refused; "
        f"{EXIT_PROCESSES_CUT} if a drain ended with processes still running (cut).",
    )
    drain.add_argument(
        "--drain-timeout",
        type=_positive_float,
        default=DEFAULTS.drain_timeout,
        metavar="SECONDS",
        help="on the first SIGTERM or SIGINT, /readyz turns 503 and new sessions and "
        "process/start are refused (-32600 `server is draining: ...`), while running "
        "processes get up to this long to finish; then the --shutdown-grace shutdown. "
        "A second signal shuts down at once. 0: no drain "
        f"(default {DEFAULTS.drain_timeout:g})",
    )


def _doctor(args: argparse.Namespace) -> int:
    from .sandbox.doctor import diagnose

    report = trio.run(diagnose)
    print(report.as_json() if args.json else report.as_text())
    return 0 if report.ok else 1


async def _serve_until_signalled(config: ServerConfig) -> int:
    """Serve until SIGINT/SIGTERM (or stdin EOF in stdio mode), then shut down;
    the exit status.

    The first signal asks the server to shut down gracefully: with
    ``--drain-timeout`` it drains first (see :meth:`ExecServer.drain`), then it
    stops accepting and gives requests in flight and children
    ``--shutdown-grace``; a cancel from outside could only be immediate. A second
    signal is: the tree is cancelled, and each child gets SIGTERM,
    ``--kill-grace``, then SIGKILL. The status is :data:`EXIT_PROCESSES_CUT` if a
    drain ended with processes running (its deadline, or that second signal),
    else 0. The process is its children's subreaper: their orphans are reaped,
    and killed at the end (see :mod:`execsrv.process.reaper`). Under systemd
    (``Type=notify``) it reports ``READY=1`` once bound and ``STOPPING=1`` at the
    first signal (see :mod:`execsrv.server.notify`).
    """
    notifier = ServiceNotifier.from_environment()
    cut = 0

    async def drain(server: ExecServer, *, task_status: trio.TaskStatus[None]) -> None:
        nonlocal cut
        cut = await server.drain(task_status=task_status)

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with adopting_orphans(), trio.open_nursery() as nursery:

            async def run_server(*, task_status: trio.TaskStatus[ExecServer]) -> None:
                await serve(config.listen, config=config, task_status=task_status)
                nursery.cancel_scope.cancel()  # shut down, or stdio's stdin reached EOF

            server = await nursery.start(run_server)  # signals meanwhile wait in the receiver
            if server.url is not None:
                print(server.url, flush=True)
            notifier.send("READY=1")
            async for signum in signals:
                if server.shutting_down or server.draining:
                    running = server.running_processes()
                    if server.draining:
                        cut = cut or running  # a drain's deadline may have cut some already
                    log.warning(
                        "%s again: shutting down now",
                        signal.Signals(signum).name,
                        extra={"cut": running},
                    )
                    nursery.cancel_scope.cancel()
                    break
                log.info("%s received", signal.Signals(signum).name)
                notifier.send("STOPPING=1")
                if config.drain_timeout > 0:
                    await nursery.start(drain, server)  # draining before the next signal
                else:
                    server.shutdown()
    if cut:
        log.warning(
            "exiting with status %d: the drain cut running processes",
            EXIT_PROCESSES_CUT,
            extra={"cut": cut},
        )
    return EXIT_PROCESSES_CUT if cut else 0


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The config ``serve`` flags describe: each field has the flag of the same name."""
    return ServerConfig(**{field.name: getattr(args, field.name) for field in fields(ServerConfig)})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        return _doctor(args)
    if args.command != "serve":
        return run_remote_command(args)
    configure_logging(args.log_level, args.log_format)
    refused: list[BaseException] = []
    status = 0
    try:
        status = trio.run(_serve_until_signalled, server_config(args))
    except* ConfigError as group:  # a bare ConfigError arrives wrapped, too
        refused.extend(_leaves(group))
    for error in refused:  # before binding: nothing was printed on stdout
        print(f"execsrv serve: error: {error}", file=sys.stderr)
    return 2 if refused else status


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf
        for error in group.exceptions
        for leaf in (_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    ]


if __name__ == "__main__":
    sys.exit(main())
