"""A small MCP server built with the installed SDK (1.x FastMCP or 2.x MCPServer).

``python server.py`` serves stdio; ``python server.py http`` serves streamable HTTP
on 127.0.0.1 (a free port, printed as ``PORT <n>`` on stdout once it listens).
"""

from __future__ import annotations

import os
import socket
import sys

try:
    from mcp.server.mcpserver import Context  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:
    from mcp.server.fastmcp import Context  # type: ignore[no-redef]  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server

server = Server("execsrv-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def whoami() -> dict[str, object]:
    """Where this server runs: its pid, parent, cwd and two environment variables."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "cwd": os.getcwd(),
        "marker": os.environ.get("MARKER"),
        "home": os.environ.get("HOME"),
        "secret": os.environ.get("EXECSRV_TEST_NOT_INHERITED"),
    }


@server.tool()
def big(size: int) -> str:
    """A text result of ``size`` characters."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


@server.tool()
async def chatty(count: int, ctx: Context) -> str:  # type: ignore[type-arg]
    """Send ``count`` log notifications during the call, then answer."""
    for n in range(count):
        await ctx.info(f"step {n}")
    return "done"


@server.tool()
async def gated(path: str, ctx: Context) -> str:  # type: ignore[type-arg]
    """Say "waiting", then answer with the file at ``path`` once it exists."""
    import anyio

    await ctx.info("waiting")
    gate = anyio.Path(path)
    while not await gate.exists():  # noqa: ASYNC110 (another process writes the file)
        await anyio.sleep(0.01)
    return await gate.read_text()


@server.tool()
def noisy(lines: int) -> str:
    """Write ``lines`` lines to stderr, then answer."""
    for n in range(lines):
        sys.stderr.write(f"stderr line {n} " + "x" * 200 + "\n")
    sys.stderr.flush()
    return "quiet now"


@server.tool()
def crash() -> str:
    """Die mid-call with a message on stderr."""
    sys.stderr.write("crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


def serve_http() -> None:
    import anyio
    import uvicorn

    listener = socket.create_server(("127.0.0.1", 0))
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    print("PORT", listener.getsockname()[1], flush=True)
    anyio.run(uvicorn.Server(config).serve, [listener])


if __name__ == "__main__":
    if sys.argv[1:] == ["http"]:
        serve_http()
    else:
        server.run()
