"""Serving the NOC page: uvicorn (HTTP/1.1 keep-alive) with the limits a 24/7 page needs.

uvicorn (httptools parser when installed, else h11) bounds idle keep-alive connections,
concurrent connections and shutdown time; it has no deadline for a client that sends its request
headers slowly, so `_Deadlines` closes a connection whose request line and headers are not
complete within `header_timeout`, and one whose headers exceed 16 KiB. Bodies are bounded and
timed by the app (safety.read_form).
"""
from __future__ import annotations

import asyncio
import signal
import socket

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import WebConfig, create_app

HEADER_TIMEOUT = 10.0
MAX_HEADER = 16 * 1024
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
              b"content-length: 0\r\n\r\n")


class _Deadlines:
    """Mixed into uvicorn's HTTP protocols: a request's headers must be complete within
    `header_timeout` seconds of the connection (or of the previous response) and within
    MAX_HEADER bytes; otherwise the connection is dropped (431 for the size)."""

    header_timeout = HEADER_TIMEOUT
    _hdr_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._hdr_bytes = 0
        self._hdr_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._hdr_timer is not None:
            self._hdr_timer.cancel()
            self._hdr_timer = None

    def _headers_late(self) -> None:
        self._hdr_timer = None
        if not self.transport.is_closing():
            self.transport.close()  # no complete request in time: drop, nothing to answer

    def data_received(self, data: bytes) -> None:
        # Parsers bound headers that arrive in pieces at best; one big packet of headers is bounded here.
        if self._hdr_timer is not None:
            room = MAX_HEADER - self._hdr_bytes
            if len(data) > room and b"\r\n\r\n" not in data[:max(room, 0) + 4]:
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
            self._hdr_bytes += len(data)
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # the next request on this keep-alive connection
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


class _DeadlineH11(_Deadlines, H11Protocol):
    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:
            self._disarm()  # a request arrived: the app's own timeouts apply now


try:  # httptools (C parser) when installed: the same deadlines, less CPU per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _DeadlineHttpTools(_Deadlines, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    _PROTOCOL = _DeadlineHttpTools
except ImportError:  # pragma: no cover - h11 is always there
    _PROTOCOL = _DeadlineH11


def config(cfg: WebConfig, host: str, port: int, forwarded_allow_ips: str | None = None,
           limit_concurrency: int = 1000, keep_alive: int = 15, graceful: int = 10,
           header_timeout: float = HEADER_TIMEOUT, log_level: str = "warning") -> uvicorn.Config:
    proto = type("DeadlineHTTP", (_PROTOCOL,), {"header_timeout": header_timeout})
    app = create_app(cfg)
    return uvicorn.Config(
        app.asgi, host=host, port=port, http=proto, lifespan="off", loop="asyncio",
        proxy_headers=forwarded_allow_ips is not None, forwarded_allow_ips=forwarded_allow_ips or "127.0.0.1",
        timeout_keep_alive=keep_alive, timeout_graceful_shutdown=graceful, limit_concurrency=limit_concurrency,
        backlog=2048, h11_max_incomplete_event_size=16 * 1024, server_header=False, access_log=False,
        log_level=log_level)


def serve(cfg: WebConfig, host: str, port: int, **kw) -> None:
    """Run until SIGTERM/SIGINT; in-flight requests finish (up to `graceful` seconds).

    The socket is bound here, so a port in use is an OSError for the CLI (a clear message, exit 2)
    and the address printed is the one really listening (port 0 included)."""
    conf = config(cfg, host, port, **kw)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(conf)
    print(f"NOC dashboard on http://{host}:{bound}/ (db {cfg.db})", flush=True)
    # uvicorn re-raises the stop signal once it has drained; with these handlers that ends in exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
