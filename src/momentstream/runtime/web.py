"""/metrics, /healthz, /readyz (and /customers/<id>, see inspect_page) of the batched worker, served from a
background thread.

The thread only reads: the worker refreshes its gauges and readiness on its own loop, so a
scrape never touches state the loop is changing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from momentstream.ops.metrics import CONTENT_TYPE
from momentstream.runtime.inspect_page import PREFIX

__all__ = ["WebServer"]

logger = logging.getLogger(__name__)


class WebServer:
    """The three pages an SRE and an orchestrator look at."""

    def __init__(self, host: str, port: int, metrics: Callable[[], bytes],
                 readiness: Callable[[], tuple[bool, list[int]]],
                 inspect: Callable[[str, str | None], tuple[int, bytes, str]] | None = None) -> None:  # fmt: skip
        pages = {"/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz}
        self._render_metrics = metrics
        self._readiness = readiness

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(self.path.split("?")[0])
                if page is not None:
                    status, body, content_type = page()
                elif inspect is not None and self.path.startswith(PREFIX):
                    status, body, content_type = inspect(self.path, self.headers.get("Authorization"))
                else:
                    status, body, content_type = 404, b"not found\n", "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status == 401:
                    self.send_header("WWW-Authenticate", "Bearer")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Scrapes every few seconds are not worth a log line."""

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="momentstream-web", daemon=True)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _metrics(self) -> tuple[int, bytes, str]:
        return 200, self._render_metrics(), CONTENT_TYPE

    @staticmethod
    def _healthz() -> tuple[int, bytes, str]:
        return 200, b'{"status": "ok"}', "application/json"

    def _readyz(self) -> tuple[int, bytes, str]:
        ready, partitions = self._readiness()
        body = json.dumps({"ready": ready, "partitions": partitions}).encode()
        return (200 if ready else 503), body, "application/json"
