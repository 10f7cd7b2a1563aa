"""`infersight demo` end to end: the real embedded model behind the gateway, demo traffic,
records in SQLite and live Prometheus metrics. Skipped only when the model package is absent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infersight.core.records import RequestRecord
from infersight.localmodel.server import LocalModelUnavailable, check_available
from infersight.store.sqlite import SqliteStore

pytestmark = pytest.mark.localmodel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _completed_requests(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "infersight_requests_total" and s.labels.get("status") == "200"
    )


def _user_streams(db: Path) -> list[RequestRecord]:
    """Completed streamed user requests recorded so far (the store is readable while the demo
    writes to it)."""
    if not db.exists():
        return []
    store = SqliteStore(db)
    try:
        records = store.list_records(0, 4e9, limit=10_000)
    finally:
        store.close()
    return [r for r in records if r.source == "user" and r.stream and r.status == 200]


def test_demo_serves_real_model_and_records_requests(tmp_path: Path) -> None:
    try:
        check_available()
    except LocalModelUnavailable as exc:
        pytest.skip(str(exc))
    port = _free_port()
    db = tmp_path / "demo.db"
    env = {**os.environ, "INFERSIGHT_DEMO__MAX_TOKENS": "16"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infersight.cli.main",
            "demo",
            "--port",
            str(port),
            "--db",
            str(db),
            "--rate",
            "2",
        ],  # not a terminal: plain lines instead of the live table
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        done = 0.0
        while time.monotonic() < deadline and (done < 3 or len(_user_streams(db)) < 3):
            time.sleep(1)
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                done = _completed_requests(url)
            except httpx.HTTPError:
                continue
        assert done >= 3, "the demo produced no completed requests in 120 s"
        assert len(_user_streams(db)) >= 3, "no streamed demo traffic recorded in 120 s"
        # the gateway also answers a request of our own, through to the real model
        r = httpx.post(
            url + "/v1/chat/completions",
            json={
                "model": "smollm2-135m-instruct",
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                "max_tokens": 12,
            },
            timeout=60,
        )
        assert r.status_code == 200
        assert r.json()["choices"][0]["message"]["content"].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    lines = out.splitlines()
    assert lines[0].startswith(f"infersight demo · gateway {url}/v1 · dashboard {url}/")
    assert any(line.startswith("stopped; ") and "records written" in line for line in lines)
    store = SqliteStore(db)
    try:
        records = store.list_records(0, 4e9, limit=10_000)
    finally:
        store.close()
    # the demo traffic in flight at the stop was let finish, not cut (a sweep is cut: its
    # request says source=sweep)
    cut = [r for r in records if r.error_class == "client_disconnect" and r.source != "sweep"]
    assert not cut
    ok = [r for r in records if r.status == 200 and r.error_class is None]
    streamed = [r for r in ok if r.stream and r.source == "user"]
    assert len(streamed) >= 3, "the demo streams most requests"
    # the demo's quality sweep went through the gateway as sweep traffic
    assert any(r.source == "sweep" for r in records)
    for rec in streamed:
        assert rec.model == "smollm2-135m-instruct"
        assert rec.ttft_s is not None and 0 < rec.ttft_s < 60
        assert rec.completion_tokens and rec.completion_tokens <= 16
        # the stream's end was seen: llama.cpp's last chunk carries the finish reason
        assert rec.finish_reason in {"stop", "length"}
        # llama.cpp's server sends no usage in streams: counts are marked as estimates
        assert rec.tokens_estimated
