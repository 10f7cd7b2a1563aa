"""Notifiers against real servers on 127.0.0.1: an HTTP receiver (http.server in a thread) for
webhooks and Slack, and aiosmtpd for e-mail (plain, AUTH, STARTTLS and SMTPS).

Backoff waits go through an injected sleep that only records them; timeouts are real but
short, and nothing asserts on how long anything took.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from tests_support.notifications import firing_note

from infersight.alerting.delivery import DeliveryResult, deliver
from infersight.alerting.model import Notification
from infersight.alerting.notifier_format import STATE_COLOURS
from infersight.alerting.notifier_settings import NotifierSettings
from infersight.alerting.notifiers import EmailNotifier, Notifier, build_notifiers
from infersight.core.clock import FakeClock

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"  # the test relay, on purpose
)


# --- HTTP receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    """Records every POST. /fail-N answers 500 to the first N requests on that path, then 200;
    /slow waits until released (or 10 s) before answering; anything else answers 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.release = threading.Event()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(size)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw),
                        )
                    )
                    count = receiver._counts[self.path] = receiver._counts.get(self.path, 0) + 1
                if self.path == "/slow":
                    receiver.release.wait(10)
                status = 200
                first = self.path.split("/")[1]  # "/fail-2/..." -> "fail-2"
                if first.startswith("fail-") and count <= int(first.removeprefix("fail-")):
                    status = 500
                payload = b"ok" if status == 200 else b"upstream exploded"
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def send_all(
    notifiers: Mapping[str, Notifier], note: Notification | None = None, waits: Waits | None = None
) -> dict[str, DeliveryResult]:
    results = asyncio.run(
        deliver(notifiers, note or firing_note(), clock=FakeClock(), sleep=waits or Waits())
    )
    return {r.notifier: r for r in results}


def settings(**values: Any) -> NotifierSettings:
    return NotifierSettings.model_validate(values)


# --- webhook and Slack -----------------------------------------------------------------------


def test_webhook_posts_the_documented_body_with_headers(receiver: Receiver) -> None:
    notifiers = build_notifiers(
        [
            settings(
                kind="webhook",
                name="ops",
                url=f"{receiver.url}/hook",
                headers={"X-Team": "inference"},
                headers_env={"Authorization": "HOOK_TOKEN"},
            )
        ],
        env={"HOOK_TOKEN": "Bearer t0k"},
    )
    results = send_all(notifiers)
    assert results["ops"].delivered and results["ops"].attempts == 1
    assert results["log"].delivered
    [got] = receiver.on("/hook")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-team"] == "inference"
    assert got.headers["authorization"] == "Bearer t0k"
    assert got.headers["user-agent"].startswith("infersight-alerts/")
    body = got.body
    assert body["version"] == 1
    assert (body["rule"], body["state"], body["previous_state"]) == ("p95-ttft", "ALARM", "OK")
    assert body["status"] == "firing" and body["title"].startswith("[ALARM] p95-ttft")
    assert (body["value"], body["threshold"], body["window_s"]) == (2.5, 2.0, 300.0)
    assert body["severity"] == "critical" and body["labels"] == {"model": "llama"}
    assert body["runbook"] == "https://runbooks.example.com/ttft"
    assert body["dashboard_url"] == "http://127.0.0.1:8400/dashboard/rules/p95-ttft"
    assert body["started_at"] == "2023-11-14T22:13:20Z" and body["at_unix"] == 1_700_000_300.0


def test_slack_message_reaches_the_receiver(receiver: Receiver) -> None:
    notifiers = build_notifiers(
        [settings(kind="slack", url_env="SLACK_URL")], env={"SLACK_URL": f"{receiver.url}/slack"}
    )
    note = firing_note(state="OK", previous_state="ALARM", value=1.2)
    assert send_all(notifiers, note)["slack"].delivered
    [got] = receiver.on("/slack")
    assert got.body["text"] == (
        "[OK] p95-ttft {model=llama}: value 1.2, threshold 2 over 5m (was ALARM)"
    )
    attachment = got.body["attachments"][0]
    assert attachment["color"] == STATE_COLOURS["OK"]
    text = json.dumps(got.body)
    assert "<http://127.0.0.1:8400/dashboard/rules/p95-ttft|open>" in text
    assert "<https://runbooks.example.com/ttft|open>" in text


def test_answers_500_twice_then_200_is_delivered_on_attempt_3(receiver: Receiver) -> None:
    notifiers = build_notifiers(
        [settings(kind="webhook", name="flaky", url=f"{receiver.url}/fail-2", backoff_s=0.5)],
        env={},
    )
    waits = Waits()
    result = send_all(notifiers, waits=waits)["flaky"]
    assert result.delivered and result.attempts == 3
    assert [f.attempt for f in result.failures] == [1, 2]
    assert "answered HTTP 500: upstream exploded" in result.failures[0].error
    assert f"POST {receiver.url}/fail-2" in result.failures[0].error
    assert waits.waits == [0.5, 1.0]
    assert len(receiver.on("/fail-2")) == 3


def test_a_receiver_that_is_down_fails_alone(receiver: Receiver) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    notifiers = build_notifiers(
        [
            settings(kind="webhook", name="down", url=down, max_attempts=2, backoff_s=1),
            settings(kind="webhook", name="up", url=f"{receiver.url}/hook"),
            settings(kind="slack", url=f"{receiver.url}/slack"),
        ],
        env={},
    )
    results = send_all(notifiers)
    assert not results["down"].delivered and results["down"].attempts == 2
    error = results["down"].error or ""
    assert error.startswith(f"webhook 'down': POST {down}: cannot connect")
    assert "is the receiver running" in error
    assert all(results[n].delivered for n in ("up", "slack", "log"))
    assert len(receiver.on("/hook")) == 1 and len(receiver.on("/slack")) == 1


def test_a_slow_receiver_times_out_and_holds_up_no_one(receiver: Receiver) -> None:
    notifiers = build_notifiers(
        [
            settings(
                kind="webhook",
                name="slow",
                url=f"{receiver.url}/slow",
                timeout_s=0.3,
                max_attempts=1,
            ),
            settings(kind="webhook", name="fast", url=f"{receiver.url}/hook"),
        ],
        env={},
    )
    results = send_all(notifiers)
    assert results["fast"].delivered
    assert not results["slow"].delivered
    assert "no answer within 0.3 s" in (results["slow"].error or "")


def test_slack_errors_do_not_show_the_secret_url_path(receiver: Receiver) -> None:
    url = f"{receiver.url}/fail-9/T000/B000/very-secret-token"
    notifiers = build_notifiers([settings(kind="slack", url=url, max_attempts=1)], env={})
    result = send_all(notifiers)["slack"]
    assert not result.delivered
    assert "very-secret-token" not in (result.error or "")
    assert f"POST {receiver.url}/... answered HTTP 500" in (result.error or "")


# --- e-mail ----------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps every accepted message."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        out = []
        for env in self.envelopes:
            raw = env.original_content or env.content
            assert isinstance(raw, bytes)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"alerts",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A plain SMTP server that requires AUTH (allowed without TLS, as on a test relay)."""
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=check_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()


def mail_settings(port: int, **extra: Any) -> NotifierSettings:
    values: dict[str, Any] = {
        "kind": "email",
        "name": "mail",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "starttls": False,
        "username": "alerts",
        "password_env": "SMTP_PASSWORD",
        "from_addr": "alerts@infersight.test",
        "to_addrs": ["oncall@infersight.test", "lead@infersight.test"],
        "subject_prefix": "[infersight-test]",
        "timeout_s": 5,
        **extra,
    }
    return settings(**values)


def test_email_with_auth_carries_every_field(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    notifiers = build_notifiers([mail_settings(port)], env={"SMTP_PASSWORD": "s3cret"})
    result = send_all(notifiers)["mail"]
    assert result.delivered, result.error
    [envelope] = box.envelopes
    assert envelope.mail_from == "alerts@infersight.test"
    assert envelope.rcpt_tos == ["oncall@infersight.test", "lead@infersight.test"]
    [msg] = box.messages()
    assert msg["Subject"].strip() == (
        "[infersight-test] [ALARM] p95-ttft {model=llama}: value 2.5, threshold 2 over 5m (was OK)"
    )
    assert msg["To"] == "oncall@infersight.test, lead@infersight.test"
    assert msg["X-Infersight-State"] == "ALARM"
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text, page = text_part.get_content(), html_part.get_content()
    for needle in (
        "p95-ttft",
        "ALARM",
        "2.5",
        "threshold 2",
        "5m",
        "critical",
        "model=llama",
        "http://127.0.0.1:8400/dashboard/rules/p95-ttft",
        "https://runbooks.example.com/ttft",
    ):
        assert needle in text, needle
        assert needle in page, needle
    assert '<a href="http://127.0.0.1:8400/dashboard/rules/p95-ttft">' in page


def test_email_wrong_password_is_recorded(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    notifiers = build_notifiers(
        [mail_settings(port, max_attempts=2)], env={"SMTP_PASSWORD": "wrong"}
    )
    result = send_all(notifiers)["mail"]
    assert not result.delivered and result.attempts == 2
    error = result.error or ""
    assert error.startswith(f"email 'mail': SMTP 127.0.0.1:{port}: login as 'alerts' refused (535")
    assert "wrong" not in error
    assert box.envelopes == []


def test_email_server_down_is_recorded_and_others_delivered(receiver: Receiver) -> None:
    port = free_port()
    notifiers = build_notifiers(
        [
            mail_settings(port, max_attempts=1),
            settings(kind="webhook", name="hook", url=f"{receiver.url}/hook"),
        ],
        env={"SMTP_PASSWORD": "s3cret"},
    )
    results = send_all(notifiers)
    assert results["hook"].delivered
    assert "connection refused" in (results["mail"].error or "")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made by the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_notifier(port: int, cert: Path, **values: Any) -> EmailNotifier:
    return EmailNotifier(
        "mail",
        host="127.0.0.1",
        port=port,
        from_addr="alerts@infersight.test",
        to_addrs=["oncall@infersight.test"],
        username="alerts",
        password="s3cret",
        ssl_context=ssl.create_default_context(cafile=str(cert)),
        **values,
    )


def test_email_over_starttls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    controller.start()
    try:
        result = send_all({"mail": tls_notifier(port, cert, starttls=True)})["mail"]
        assert result.delivered, result.error
        assert len(box.envelopes) == 1
        untrusted = EmailNotifier(
            "plain",
            host="127.0.0.1",
            port=port,
            from_addr="alerts@infersight.test",
            to_addrs=["oncall@infersight.test"],
            starttls=True,
        )  # the system's CAs do not trust the test certificate
        failed = send_all({"plain": untrusted})["plain"]
        assert not failed.delivered and "TLS failed" in (failed.error or "")
    finally:
        controller.stop()


def test_email_over_smtps(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        ssl_context=server_ctx,
        authenticator=check_login,
        auth_required=True,
        auth_require_tls=False,  # the whole connection is TLS; aiosmtpd only knows STARTTLS
    )
    controller.start()
    try:
        result = send_all({"mail": tls_notifier(port, cert, use_ssl=True)})["mail"]
        assert result.delivered, result.error
        [msg] = box.messages()
        assert "p95-ttft" in str(msg["Subject"])
    finally:
        controller.stop()
