"""/metrics, /healthz, /readyz (and /customers/<id>, see inspect_page) of the batched worker, served from a
background thread.

The thread only reads: the worker refreshes its gauges and readiness on its own loop, so a scrape
never touches state the loop is changing. Whoever can reach the port cannot take the worker down
with it. The pages are served by one asyncio loop in one thread (an idle connection costs a few
kilobytes, not a thread), so the probes keep answering beside a thousand idle connections: a
request's line and headers over :data:`MAX_REQUEST_BYTES` are refused (431), a connection that
has not sent its request within :data:`REQUEST_TIMEOUT_S` is closed, at most :data:`MAX_CONNECTIONS`
are open at once (more are closed at once), and ``/metrics`` is rendered at most once per
:data:`METRICS_TTL_S` however often it is scraped, so serving stays off the processing loop's CPU.
``/healthz`` answers 503 once the processing loop has not beaten for ``heartbeat_timeout``: a hung
worker is restarted by its liveness probe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

from momentstream.ops.metrics import CONTENT_TYPE
from momentstream.runtime.kafka.inspect_page import PREFIX

__all__ = ["MAX_CONNECTIONS", "MAX_REQUEST_BYTES", "METRICS_TTL_S", "REQUEST_TIMEOUT_S", "WebServer"]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16_384
"""Request line and headers together; a GET for these pages needs a few hundred bytes."""
MAX_CONNECTIONS = 1_024
"""Connections open at once; one more is closed without an answer."""
REQUEST_TIMEOUT_S = 10.0
"""A connection must send its whole request within this long."""
METRICS_TTL_S = 1.0
"""A /metrics rendering is reused for this long."""

Page = tuple[int, bytes, str]


class WebServer:
    """The pages an SRE and an orchestrator look at (``probes=False``: only the customer look-up, for a port
    of its own)."""

    def __init__(self, host: str, port: int, metrics: Callable[[], bytes],
                 readiness: Callable[[], tuple[bool, list[int]]],
                 inspect: Callable[[str, str | None], Page] | None = None,
                 loop_age: Callable[[], float] | None = None,
                 heartbeat_timeout_s: float | None = None, probes: bool = True) -> None:  # fmt: skip
        self._pages: dict[str, Callable[[], Page]] = {
            "/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz,
        } if probes else {}  # fmt: skip
        self._render_metrics = metrics
        self._readiness = readiness
        self._inspect = inspect
        self._loop_age = loop_age
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._rendered: tuple[float, bytes] = (-1e9, b"")
        self.open_connections = 0
        self._loop = asyncio.new_event_loop()
        # Bind now, in the caller's thread, so a taken port fails the worker's start with an OSError.
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, host, port, limit=MAX_REQUEST_BYTES, backlog=128)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._thread = threading.Thread(target=self._loop.run_forever, name="momentstream-web", daemon=True)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        else:
            self._loop.run_until_complete(close())
        self._loop.close()

    # -- one connection ---------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open_connections >= MAX_CONNECTIONS:
            writer.close()
            return
        self.open_connections += 1
        try:
            answer = await self._answer(reader)
            if answer is not None:
                writer.write(answer)
                await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to tell it, nothing worth a log line
        except Exception:
            logger.debug("web request failed", exc_info=True)
        finally:
            self.open_connections -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> bytes | None:
        """The response bytes for the request on ``reader`` (None: it sent nothing in time)."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            return _response(431, b"request too large\n", "text/plain")
        except asyncio.IncompleteReadError as err:
            if len(err.partial) >= MAX_REQUEST_BYTES:
                return _response(431, b"request too large\n", "text/plain")
            return None
        except TimeoutError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return _response(400, b"bad request\n", "text/plain")
        method, path = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return _response(405, b"only GET\n", "text/plain", [("Allow", "GET, HEAD")])
        authorization = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "authorization":
                authorization = value.strip()
        status, body, content_type = self._page(path, authorization)
        extra = [("WWW-Authenticate", "Bearer")] if status == 401 else []
        return _response(status, b"" if method == "HEAD" else body, content_type, extra, len(body))

    def _page(self, path: str, authorization: str | None) -> Page:
        page = self._pages.get(path.split("?", maxsplit=1)[0])
        if page is not None:
            return page()
        if self._inspect is not None and path.startswith(PREFIX):
            return self._inspect(path, authorization)
        return 404, b"not found\n", "text/plain"

    # -- the pages --------------------------------------------------------------------------------
    def _metrics(self) -> Page:
        at, body = self._rendered
        now = time.monotonic()
        if now - at >= METRICS_TTL_S:
            body = self._render_metrics()
            self._rendered = (now, body)
        return 200, body, CONTENT_TYPE

    def _healthz(self) -> Page:
        if self._loop_age is not None and self._heartbeat_timeout_s is not None:
            age = self._loop_age()
            if age > self._heartbeat_timeout_s:
                doc = {"status": "stalled", "seconds_since_heartbeat": round(age, 1)}
                return 503, json.dumps(doc).encode(), "application/json"
        return 200, b'{"status": "ok"}', "application/json"

    def _readyz(self) -> Page:
        ready, partitions = self._readiness()
        body = json.dumps({"ready": ready, "partitions": partitions}).encode()
        return (200 if ready else 503), body, "application/json"


def _response(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None,
              length: int | None = None) -> bytes:  # fmt: skip
    """An HTTP/1.0 response (the connection closes after it).

    >>> _response(404, b"not found\\n", "text/plain").splitlines()[0]
    b'HTTP/1.0 404 Not Found'
    """
    lines = [f"HTTP/1.0 {status} {HTTPStatus(status).phrase}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body) if length is None else length}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers or [])]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
