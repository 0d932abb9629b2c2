"""A lab service that serves a volume's files over HTTP and says which site answered.

    python -m dcops.drills.labkit.volserve --dir /path/to/volume --site dr --bind 198.51.100.10 --port 80

Every response carries `X-Dcops-Site: <site>`, so a probe can tell the production instance from the DR
one behind the same published address (the dr-failover drill counts only the DR site's answers as "switched").
"""
from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--site", required=True)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=80)
    a = ap.parse_args()

    class Handler(SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("X-Dcops-Site", a.site)
            super().end_headers()

        def log_message(self, *args) -> None:  # one line per probe would fill the lab log
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer((a.bind, a.port), functools.partial(Handler, directory=a.dir)).serve_forever()


if __name__ == "__main__":
    main()
