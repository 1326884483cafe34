"""Run a collector app under uvicorn with the privacy-safe log configuration."""

from __future__ import annotations

import logging.config

import uvicorn
from fastapi import FastAPI

from pipeline.collector.logfilter import log_config


def make_server(
    app: FastAPI,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    configure_logging: bool = True,
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
    """
    config = log_config(log_level.upper()) if configure_logging else None
    if config is not None:
        logging.config.dictConfig(config)
    return uvicorn.Server(
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
        )
    )


def serve(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM shut it down gracefully)."""
    make_server(app, host, port, log_level).run()
