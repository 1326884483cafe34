"""Run a collector app under uvicorn with the privacy-safe log configuration."""

from __future__ import annotations

import logging.config
import socket

import uvicorn
from fastapi import FastAPI

from pipeline.collector.logfilter import OWN_ADDRESSES, log_config

log = logging.getLogger("pipeline.collector")


class _Server(uvicorn.Server):
    """A uvicorn server that logs one start-up line: where it listens and what it uses."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then log the bound addresses (port 0 resolved) and the banner."""
        await super().startup(sockets)
        bound = [s.getsockname() for server in self.servers for s in server.sockets]
        urls = ", ".join(sorted({_url(address) for address in bound})) or "no socket"
        log.info("collector listening on %s; %s", urls, self.banner or "ready",
                 extra={OWN_ADDRESSES: True})


def _url(address: tuple[str, int] | tuple[str, int, int, int] | str) -> str:
    if isinstance(address, str):
        return address
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"http://{host}:{address[1]}"


def make_server(
    app: FastAPI,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    configure_logging: bool = True,
    banner: str = "",
) -> uvicorn.Server:
    """A uvicorn server for ``app``: no access log of uvicorn's (it prints client ips).

    uvicorn's proxy-header handling is off (by default it believes ``X-Forwarded-For`` from
    loopback): the app believes forwarded headers only from its configured trusted proxies.

    Args:
        app: the collector app (:func:`pipeline.collector.app.create_app`).
        host: address to listen on.
        port: port to listen on (0: any free port; read it from ``server.servers``).
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        configure_logging: install the redacting stderr logging (a process-wide change);
            embedders with their own logging (tests) pass False.
        banner: what the start-up line adds after the listen address (no secret in it).
    """
    config = log_config(log_level.upper()) if configure_logging else None
    if config is not None:
        logging.config.dictConfig(config)
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=config,
            access_log=False,
            server_header=False,
            log_level=log_level,
            lifespan="on",
            proxy_headers=False,
            forwarded_allow_ips="",
        ),
        banner,
    )


def serve(
    app: FastAPI, host: str, port: int, log_level: str = "info", banner: str = ""
) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM shut it down gracefully)."""
    make_server(app, host, port, log_level, banner=banner).run()
