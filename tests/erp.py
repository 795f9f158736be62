"""A fake ERP on 127.0.0.1: a real HTTP server that verifies Standard Webhooks signatures.

It counts deliveries by idempotency key: ``accepted`` (answered 2xx without a
rejection), ``received`` (every request, including failed ones).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class FakeERP:
    """Behaviour is set per test: ``mode`` one of ok, down, reject, hang, flaky."""

    def __init__(self, secret: str = SECRET) -> None:
        self.webhook = Webhook(secret)
        self.mode = "ok"
        self.failure_rate = 0.3
        self.status = 500
        self.retry_after: str | None = None
        self.reject_reason = "Already shipped"
        self.reject_status = 200
        self.accepted: Counter = Counter()
        self.received: Counter = Counter()
        self.payloads: dict[str, dict] = {}
        self.bad_signatures = 0
        self.hang = threading.Event()
        self.lock = threading.Lock()
        self.random = random.Random(1234)
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                erp.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/cancel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeERP:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.hang.set()
        self.server.shutdown()
        self.server.server_close()

    def respond(self, handler, status: int, body: dict | str = "", headers: dict | None = None) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def handle(self, handler, body: bytes) -> None:
        headers = dict(handler.headers.items())
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            self.respond(handler, 401, {"error": "bad signature"})
            return
        key = headers["webhook-id"]
        assert headers["Idempotency-Key"] == key
        with self.lock:
            self.received[key] += 1
            self.payloads[key] = payload
            mode = self.mode
            fail = mode == "flaky" and self.random.random() < self.failure_rate
        if mode == "hang":
            self.hang.wait(30)
            return
        if mode == "down" or fail:
            extra = {"Retry-After": self.retry_after} if self.retry_after else {}
            self.respond(handler, self.status, "upstream trouble", extra)
            return
        if mode == "reject":
            self.respond(handler, self.reject_status,
                         {"status": "rejected", "reason": self.reject_reason})
            return
        with self.lock:
            duplicate = self.accepted[key] > 0
            self.accepted[key] += 1
        self.respond(handler, 200, {"status": "ok", "duplicate": duplicate})

    def processor_entry(self, name: str = "erp", **options) -> dict:
        """An ``OSCAR_ORDERCANCEL_PROCESSORS`` entry pointing at this server."""
        return {"name": name, "class": "oscar_ordercancel.processors.WebhookProcessor",
                "options": {"url": self.url, "secret": SECRET, "timeout": 5, **options}}


def wait_for(condition, seconds: float = 30.0, every: float = 0.1, tick=None) -> bool:
    """Poll ``condition`` (calling ``tick`` between polls) until true or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if tick is not None:
            tick()
        time.sleep(every)
    return condition()
