"""A broken ACME CA on loopback for the fault tests: it answers garbage, HTTP 500, or nothing at all.

Runs in a thread of the test process over HTTPS with the stack's API certificate (so acme.sh
trusts it through --ca-bundle, as it trusts Pebble). `refused_url()` is a port where nothing
listens. Stopped by the test that started it.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.stack import LOOPBACK, TestCA, free_port

GARBAGE = b"<html><body>Service temporarily unavailable; please call back later</body></html>\n"


class CAStub:
    """mode: "garbage" (200 with HTML instead of JSON), "500" (HTTP 500), "hang" (never answers)."""

    def __init__(self, api_ca: TestCA, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                stub.requests += 1
                if stub.mode == "hang":
                    time.sleep(3600)
                status, body = (500, b"internal error\n") if stub.mode == "500" else (200, GARBAGE)
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_POST = do_GET

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(api_ca.server_cert), str(api_ca.server_key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.server.server_address[1]}/dir"

    def __enter__(self) -> "CAStub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def refused_url() -> str:
    """A directory URL on a loopback port where nothing listens (connection refused)."""
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex((LOOPBACK, port)) != 0
    return f"https://{LOOPBACK}:{port}/dir"
