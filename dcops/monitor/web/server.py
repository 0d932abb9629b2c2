"""Serving the NOC page: uvicorn (HTTP/1.1 keep-alive, h11) with the limits a 24/7 page needs.

uvicorn bounds the header size (h11), idle keep-alive connections, concurrent connections and
shutdown time; it has no deadline for a client that sends its request headers slowly, so
`_DeadlineH11` closes a connection whose request line and headers are not complete within
`header_timeout`, and one whose headers exceed 16 KiB. Bodies are bounded and timed by the app (safety.read_form).
"""
from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import WebConfig, create_app

HEADER_TIMEOUT = 10.0


MAX_HEADER = 16 * 1024


class _DeadlineH11(H11Protocol):
    header_timeout = HEADER_TIMEOUT

    def data_received(self, data: bytes) -> None:
        # h11 bounds only headers that arrive in pieces; one big packet of headers is bounded here.
        if self._hdr_timer is not None:
            room = MAX_HEADER - self._hdr_bytes
            if len(data) > room and b"\r\n\r\n" not in data[:max(room, 0) + 4]:
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
                                     b"content-length: 0\r\n\r\n")
                self.transport.close()
                return
            self._hdr_bytes += len(data)
        super().data_received(data)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._hdr_bytes = 0
        self._hdr_timer = self.loop.call_later(self.header_timeout, self._headers_late)
        self._hdr_cycle = self.cycle

    def _headers_late(self) -> None:
        if self.cycle is self._hdr_cycle and not self.transport.is_closing():
            self.transport.close()  # no complete request in time: drop, nothing to answer

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._hdr_cycle and self._hdr_timer is not None:
            self._hdr_timer.cancel()  # a request arrived: the app's own timeouts apply now
            self._hdr_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # the next request on this keep-alive connection
            if self._hdr_timer is not None:
                self._hdr_timer.cancel()
            self._arm()

    def connection_lost(self, exc) -> None:
        if getattr(self, "_hdr_timer", None) is not None:
            self._hdr_timer.cancel()
        super().connection_lost(exc)


def config(cfg: WebConfig, host: str, port: int, forwarded_allow_ips: str | None = None,
           limit_concurrency: int = 1000, keep_alive: int = 15, graceful: int = 10,
           header_timeout: float = HEADER_TIMEOUT, log_level: str = "warning") -> uvicorn.Config:
    proto = type("DeadlineH11", (_DeadlineH11,), {"header_timeout": header_timeout})
    app = create_app(cfg)
    return uvicorn.Config(
        app.asgi, host=host, port=port, http=proto, lifespan="off", loop="asyncio",
        proxy_headers=forwarded_allow_ips is not None, forwarded_allow_ips=forwarded_allow_ips or "127.0.0.1",
        timeout_keep_alive=keep_alive, timeout_graceful_shutdown=graceful, limit_concurrency=limit_concurrency,
        backlog=2048, h11_max_incomplete_event_size=16 * 1024, server_header=False, access_log=False,
        log_level=log_level)


def serve(cfg: WebConfig, host: str, port: int, **kw) -> None:
    """Run until SIGTERM/SIGINT; in-flight requests finish (up to `graceful` seconds)."""
    conf = config(cfg, host, port, **kw)
    server = uvicorn.Server(conf)
    logging.getLogger("dcops.web").warning("NOC page on http://%s:%s/ (db %s)", host, port, cfg.db)
    print(f"NOC dashboard on http://{host}:{port}/ (db {cfg.db})", flush=True)
    # uvicorn re-raises the stop signal once it has drained; with these handlers that ends in exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise OSError(f"cannot listen on {host}:{port}")
