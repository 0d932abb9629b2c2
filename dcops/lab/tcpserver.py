"""A tiny TCP/HTTP responder for lab zone hosts.

Answers every connection on each --port with one line naming the host, the
port and the client address as seen here (which shows NAT at work). Requests
that look like HTTP get a minimal HTTP/1.0 response carrying the same line.

    python -m dcops.lab.tcpserver --name dmz --port 80 --port 443
"""
from __future__ import annotations

import argparse
import asyncio


async def _serve(name: str, ports: list[int], bind: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[0]
        port = writer.get_extra_info("sockname")[1]
        line = f"dcops-lab {name} {port} {peer}\n".encode()
        try:
            first = await asyncio.wait_for(reader.read(1024), timeout=0.3)
        except (asyncio.TimeoutError, ConnectionError):
            first = b""
        if first[:4] in (b"GET ", b"HEAD", b"POST"):
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(line))
        writer.write(line)
        try:
            await writer.drain()
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, bind, p, reuse_address=True) for p in ports]
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--bind", default="0.0.0.0")
    a = ap.parse_args()
    asyncio.run(_serve(a.name, a.port, a.bind))


if __name__ == "__main__":
    main()
