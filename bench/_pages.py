"""A throwaway HTTP server that serves generated /metrics pages to the engines a bench starts."""
from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(page: Callable[[str], bytes]) -> ThreadingHTTPServer:
    """Serve `page(path)` as Prometheus text exposition on 127.0.0.1 (any free port) until `.shutdown()`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = page(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
