"""A real Prometheus (Debian's `prometheus` package) scrapes a real gateway on 127.0.0.1 and
evaluates rules written by `infersight export prometheus-rules`, until an alert fires.

The sim upstream fails every request (error_rate=1); the exported rule is "errors / requests
> 0" over one 1-minute period (`for:` 0). Prometheus scrapes and evaluates every second with
its TSDB in a temporary folder; the test polls its HTTP API (/api/v1/alerts) for the alert and
stops the process afterwards. Skipped only when the prometheus binary is absent (make test
installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infersight.cli.main import main
from infersight.sim.knobs import SimKnobs

from .conftest import StackFactory

PROMETHEUS = shutil.which("prometheus")
FIRE_TIMEOUT_S = 40.0
CONFIG = """\
alerting:
  rules:
    - name: upstream_errors
      metric: request_error_ratio
      period_s: 60
      evaluation_periods: 1
      threshold: 0
      severity: critical
"""

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (Debian package prometheus; make test)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """One prometheus process on a free loopback port."""

    def __init__(self, folder: Path, target: str, rules: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": "infersight", "static_configs": [{"targets": [target]}]}
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = folder / "prometheus.log"
        assert PROMETHEUS is not None
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=5).json()["data"]

    def diagnostics(self) -> str:
        try:
            targets = self.get("/api/v1/targets")
            rules = self.get("/api/v1/rules")
        except (httpx.HTTPError, ValueError) as exc:
            targets = rules = f"unavailable: {exc}"
        tail = self.log.read_text(errors="replace")[-3000:]
        return f"targets: {targets}\nrules: {rules}\nlog tail:\n{tail}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def traffic() -> Iterator[list[str]]:
    """Call with a gateway URL appended: posts chat requests until the test ends."""
    urls: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.wait(0.1):
                for url in list(urls):
                    body = {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]}
                    with contextlib.suppress(httpx.HTTPError):
                        client.post(url + "/v1/chat/completions", json=body)

    thread = threading.Thread(target=loop, name="traffic", daemon=True)
    thread.start()
    yield urls
    stop.set()
    thread.join(10)


def test_exported_rule_fires_in_a_real_prometheus(
    stack: StackFactory, traffic: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "infersight.yaml"
    config.write_text(CONFIG)
    rules = tmp_path / "rules.yml"
    assert main(["export", "prometheus-rules", "--config", str(config), "--out", str(rules)]) == 0
    capsys.readouterr()

    s = stack(SimKnobs(error_rate=1.0))
    traffic.append(s.url)
    prom = Prometheus(tmp_path, s.url.removeprefix("http://"), rules)
    try:
        deadline, firing = time.monotonic() + FIRE_TIMEOUT_S, []
        while time.monotonic() < deadline and not firing:
            time.sleep(0.5)
            if prom.proc.poll() is not None:
                pytest.fail(f"prometheus exited with {prom.proc.returncode}\n{prom.diagnostics()}")
            try:
                alerts = prom.get("/api/v1/alerts")["alerts"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue  # still starting
            firing = [
                a
                for a in alerts
                if a["labels"]["alertname"] == "upstream_errors" and a["state"] == "firing"
            ]
        assert firing, f"no firing alert within {FIRE_TIMEOUT_S:g} s\n{prom.diagnostics()}"
        (alert,) = firing
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["upstream"] == "sim"
        assert alert["labels"]["model"] == "sim-model"
        assert "(now 1)" in alert["annotations"]["summary"]  # every request failed
        recorded = prom.get("/api/v1/query?query=infersight_rule:upstream_errors:value")
        assert float(recorded["result"][0]["value"][1]) == 1.0
    finally:
        prom.stop()
