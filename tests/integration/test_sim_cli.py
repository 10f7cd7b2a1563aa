"""`infersight sim`: argument errors exit 2; it prints its URL and serves until Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from infersight.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tokens", "0"], "argument --tokens: must be an integer >= 1, got '0'"),
        (["--ttft-ms", "-1"], "argument --ttft-ms: must be a number of milliseconds >= 0"),
        (["--itl-ms", "fast"], "argument --itl-ms"),
        (["--error-rate", "1.5"], "argument --error-rate: must be a probability between 0 and 1"),
        (["--port", "70000"], "argument --port"),
        (["--error-status", "418"], "error_status: must be one of"),
        (["--queue-limit", "3"], "queue_limit: needs slots > 0"),
    ],
)
def test_bad_values_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sim", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_prints_url_serves_and_stops_on_ctrl_c() -> None:
    argv = ["sim", "--port", "0", "--tokens", "3", "--tokens-per-chunk", "2", "--model", "cli-m"]
    code = f"import sys; from infersight.cli.main import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/v1/models", timeout=10).json()["data"][0]["id"] == "cli-m"
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        r = httpx.post(url + "/v1/chat/completions", json=body, timeout=10)
        events = [e[6:] for e in r.text.split("\n\n") if e]
        assert events[-1] == "[DONE]"
        contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:-2]]
        assert [len(c.split()) for c in contents] == [2, 1]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
