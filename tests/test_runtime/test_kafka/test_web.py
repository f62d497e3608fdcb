"""The worker's web pages under abuse: oversized requests, idle connections by the thousand, scrapes in a
loop, a hung processing loop. Each against a real server on a loopback port (the worker's own, in
tests/integration/test_web_surface.py)."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from momentstream.runtime.kafka.web import MAX_REQUEST_BYTES, WebServer


class Renders:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> bytes:
        self.count += 1
        return b"momentstream_up 1\n"


@pytest.fixture
def server() -> Iterator[tuple[WebServer, Renders, list[float]]]:
    renders, age = Renders(), [0.0]
    web = WebServer("127.0.0.1", 0, renders, lambda: (True, [0, 1]), None, lambda: age[0], 120.0)
    web.start()
    yield web, renders, age
    web.stop()


def get(web: WebServer, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web.port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def raw(web: WebServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as s:
        with contextlib.suppress(OSError):  # the server may answer and close before an oversized request is sent
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)  # nothing more comes: an unfinished request ends here
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # closed with the rest of an oversized request unread
            return b"".join(chunks) or b"RESET"
        return b"".join(chunks)


def test_the_pages_answer(server: tuple[WebServer, Renders, list[float]]) -> None:
    web, _, _ = server
    assert get(web, "/healthz") == (200, b'{"status": "ok"}')
    assert get(web, "/readyz") == (200, b'{"ready": true, "partitions": [0, 1]}')
    assert get(web, "/nothing")[0] == 404
    assert raw(web, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 405")
    assert raw(web, b"garbage\r\n\r\n").startswith(b"HTTP/1.0 400")


def test_oversized_headers_are_refused_without_reading_them(server: tuple[WebServer, Renders, list[float]]) -> None:
    web, _, _ = server
    huge = b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 8000) for i in range(100))
    assert raw(web, huge + b"\r\n")[:12] in (b"HTTP/1.0 431", b"RESET")
    line = b"GET /" + b"a" * (MAX_REQUEST_BYTES + 10) + b" HTTP/1.1\r\n\r\n"
    assert raw(web, line)[:12] in (b"HTTP/1.0 431", b"RESET")
    just_over = b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * MAX_REQUEST_BYTES + b"\r\n\r\n"
    assert raw(web, just_over)[:12] in (b"HTTP/1.0 431", b"RESET")
    assert get(web, "/healthz")[0] == 200


def test_a_thousand_idle_connections_do_not_stop_the_probes(server: tuple[WebServer, Renders, list[float]]) -> None:
    web, _, _ = server
    idle = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", web.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")  # a request that never ends
            idle.append(s)
        started = time.monotonic()
        assert get(web, "/healthz")[0] == 200
        assert get(web, "/readyz")[0] == 200
        assert time.monotonic() - started < 2.0
    finally:
        for s in idle:
            s.close()


def test_scrapes_in_a_loop_render_the_metrics_once_a_second(server: tuple[WebServer, Renders, list[float]]) -> None:
    web, renders, _ = server
    started = time.monotonic()
    for _ in range(200):
        assert get(web, "/metrics") == (200, b"momentstream_up 1\n")
    elapsed = time.monotonic() - started
    assert renders.count <= elapsed + 2


def test_a_hung_processing_loop_fails_liveness(server: tuple[WebServer, Renders, list[float]]) -> None:
    web, _, age = server
    age[0] = 121.0
    status, body = get(web, "/healthz")
    assert status == 503
    assert b'"stalled"' in body
    age[0] = 1.0
    assert get(web, "/healthz")[0] == 200


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2048) | st.builds(lambda a, b: a + b"\r\n\r\n", st.binary(max_size=512), st.just(b"")))
def test_any_bytes_get_an_answer_or_a_close_and_the_probes_go_on(
    server: tuple[WebServer, Renders, list[float]], data: bytes
) -> None:
    web, _, _ = server
    answer = raw(web, data)
    assert answer in {b"", b"RESET"} or answer.startswith(b"HTTP/1.0 ")
    assert get(web, "/healthz")[0] == 200
