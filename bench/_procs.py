"""Run the simulated upstream and the gateway as separate OS processes, for benchmarks.

`ChildProcess` starts a command in its own session (a Ctrl-C in the terminal reaches only the
benchmark, which then stops its children in order), logs its output to a file, waits until it
answers GET /healthz, reads its CPU time from /proc, and stops it with SIGINT (the gateway
flushes its records on SIGINT), escalating to SIGTERM and SIGKILL. On Linux a child also gets
SIGTERM if the benchmark dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago (the child binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def infersight_command() -> list[str]:
    """The `infersight` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("infersight")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("infersight")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from infersight.cli.main import main; "
            "sys.exit(main())"]  # fmt: skip


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (10 ms resolution on Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        try:
            import psutil  # type: ignore[import-untyped]
        except ImportError:
            return float("nan")
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    fields = data[data.rindex(b")") + 2 :].split()  # after "pid (comm) ": field 3 = state
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # fields 14 utime, 15 stime


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (nginx: the master and its worker)."""
    total = process_cpu_s(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(process_cpu_s(int(c)) for c in children)


def _all_processes_cpu_ticks() -> dict[int, int]:
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(b")") + 2 :].split()
            out[int(name)] = int(fields[11]) + int(fields[12])
    return out


class OtherProcessesCpu:
    """Calling it returns the CPU seconds every process but `exclude` used since it was made.

    Other jobs sharing the machine show up here (Linux /proc). A process's CPU is counted from
    one call to the next, so one that exits in between loses only its last stretch: a lower bound
    that never goes down. NaN where /proc is missing.
    """

    def __init__(self, exclude: Collection[int]) -> None:
        self.exclude = set(exclude)
        self._prev = _all_processes_cpu_ticks()
        self._ticks = 0
        self._ok = bool(self._prev)

    def __call__(self) -> float:
        if not self._ok:
            return float("nan")
        now = _all_processes_cpu_ticks()
        prev = self._prev
        for pid, ticks in now.items():
            if pid not in self.exclude:
                self._ticks += ticks - prev.get(pid, 0)
        self._prev = now
        return self._ticks / _CLK_TCK


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ChildProcess:
    """One server process of the benchmark. Use as a context manager or call stop()."""

    def __init__(
        self, name: str, argv: Sequence[str], *, cwd: Path, log_path: Path, url: str
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.url = url
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        env = dict(os.environ, COLUMNS="200", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Return once GET /healthz answers 200; raise with the log tail if it exits or hangs."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode} before answering "
                    f"on {self.url}; its output:\n{self.log_tail()}"
                )
            conn = http.client.HTTPConnection(host, int(port), timeout=1.0)
            try:
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = str(exc)
            finally:
                conn.close()
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not answer GET {self.url}/healthz within {timeout_s:g} s "
            f"({last}); its output:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGINT, then SIGTERM, then SIGKILL; returns the exit status. Idempotent."""
        if self.proc.poll() is None:
            for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 5.0), (None, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    if sig is None:
                        self.proc.kill()
                    else:
                        self.proc.send_signal(sig)
                try:
                    self.proc.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.returncode = self.proc.poll()
        if not self._log.closed:
            self._log.close()
        return self.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sim(
    workdir: Path, knobs: Mapping[str, object], *, port: int | None = None
) -> ChildProcess:
    """`infersight sim --port P --<knob> V ...`; knobs by option name ({"ttft_ms": 50})."""
    port = port or free_port()
    argv = [*infersight_command(), "sim", "--host", HOST, "--port", str(port)]
    for key, value in knobs.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    url = f"http://{HOST}:{port}"
    child = ChildProcess("sim", argv, cwd=workdir, log_path=workdir / "sim.log", url=url)
    try:
        child.wait_healthy()
    except BaseException:
        child.stop(5)
        raise
    return child


def start_gateway(
    workdir: Path,
    upstream_url: str,
    db_path: Path,
    *,
    port: int | None = None,
    command: Sequence[str] | None = None,
) -> ChildProcess:
    """`infersight run --upstream URL --port P --db PATH`, run in `workdir` (no stray config);
    `command` replaces `infersight` (a wrapper that takes the same arguments)."""
    port = port or free_port()
    argv = [*(command or infersight_command()), "run", "--upstream", upstream_url, "--host", HOST]
    argv += ["--port", str(port), "--db", str(db_path)]
    url = f"http://{HOST}:{port}"
    child = ChildProcess("gateway", argv, cwd=workdir, log_path=workdir / "gateway.log", url=url)
    try:
        child.wait_healthy()
    except BaseException:
        child.stop(5)
        raise
    return child


@contextlib.contextmanager
def stopping(*children: ChildProcess) -> Iterator[None]:
    """Stop the given children (last first) however the block ends."""
    try:
        yield
    finally:
        for child in reversed(children):
            child.stop()


NGINX_CONF = """\
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  upstream upstream {{ server {upstream}; keepalive 1024; }}
  server {{
    listen {host}:{port};
    location = /healthz {{ return 200 "ok"; }}
    location / {{
      proxy_pass http://upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
"""


def start_nginx(workdir: Path, upstream_url: str, *, port: int | None = None) -> ChildProcess:
    """nginx as a plain streaming reverse proxy (one worker, keep-alive to the upstream,
    no buffering): the floor for what a proxy costs, measured beside the gateway."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )
    if binary is None:
        raise FileNotFoundError("nginx is not installed (Debian: apt-get install nginx-light)")
    port = port or free_port()
    here = workdir / "nginx"
    here.mkdir(parents=True, exist_ok=True)
    conf = here / "nginx.conf"
    upstream = upstream_url.removeprefix("http://").rstrip("/")
    conf.write_text(NGINX_CONF.format(work=here, upstream=upstream, host=HOST, port=port))
    argv = [binary, "-p", str(here), "-c", str(conf), "-g", "daemon off;"]
    url = f"http://{HOST}:{port}"
    child = ChildProcess("nginx", argv, cwd=here, log_path=here / "nginx.log", url=url)
    child.cpu_s = lambda: process_tree_cpu_s(child.pid)  # type: ignore[method-assign]
    try:
        child.wait_healthy(10)
    except BaseException:
        child.stop(5)
        raise
    return child


def start_bare_relay(
    workdir: Path, upstream_url: str, *, port: int | None = None, work_us: float = 0.0
) -> ChildProcess:
    """bench/_bare_relay.py: the cheapest Python relay (a TCP pipe), the floor for Python;
    with work_us, it burns that much CPU per upstream read."""
    port = port or free_port()
    host, up_port = upstream_url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    script = Path(__file__).resolve().parent / "_bare_relay.py"
    argv = [sys.executable, str(script), host, up_port, str(port), f"{work_us:g}"]
    url = f"http://{HOST}:{port}"
    child = ChildProcess("bare", argv, cwd=workdir, log_path=workdir / "bare.log", url=url)
    try:
        child.wait_healthy(10)  # /healthz goes through the pipe to the sim
    except BaseException:
        child.stop(5)
        raise
    return child
