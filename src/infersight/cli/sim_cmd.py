"""`infersight sim`: serve the simulated OpenAI-compatible upstream until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable
from typing import Any

from infersight.sim.knobs import ERROR_STATUSES, SimKnobs


def _number(kind: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        if not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}")
        return value

    return parse


def _integer(kind: str, low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}")
        return value

    return parse


_ms = _number("a number of milliseconds >= 0", lambda v: v >= 0)
_rate = _number("a probability between 0 and 1", lambda v: 0 <= v <= 1)
_statuses = ", ".join(str(s) for s in sorted(ERROR_STATUSES))


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sim",
        help="serve a simulated OpenAI-compatible LLM (deterministic; for tests and what-ifs)",
        description="Serve a fake OpenAI-compatible LLM upstream with chosen latency, length, "
        "faults and capacity. Prints its URL, then serves until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=_integer("a port 0-65535", 0, 65535),
        default=8000,
        help="port to bind (default 8000; 0 = any free port)",
    )
    p.add_argument("--model", default="sim-model", help="model id served (default sim-model)")
    p.add_argument(
        "--tokens",
        type=_integer("an integer >= 1", 1),
        default=64,
        help="completion length without max_tokens (default 64)",
    )
    p.add_argument(
        "--tokens-per-chunk",
        type=_integer("an integer >= 1", 1),
        default=1,
        help="tokens per SSE chunk (default 1)",
    )
    p.add_argument("--ttft-ms", type=_ms, default=0.0, help="time to first token (default 0)")
    p.add_argument("--itl-ms", type=_ms, default=0.0, help="inter-token latency (default 0)")
    p.add_argument("--ttft-jitter-ms", type=_ms, default=0.0, help="uniform +- jitter on TTFT")
    p.add_argument("--itl-jitter-ms", type=_ms, default=0.0, help="uniform +- jitter per chunk")
    p.add_argument("--error-rate", type=_rate, default=0.0, help="probability of an error reply")
    p.add_argument(
        "--error-status",
        type=_integer(f"one of {_statuses}", 400, 599),
        default=500,
        help=f"status of injected errors (default 500; one of {_statuses})",
    )
    p.add_argument(
        "--stall-rate", type=_rate, default=0.0, help="probability of a mid-stream stall"
    )
    p.add_argument("--stall-ms", type=_ms, default=0.0, help="length of a stall")
    p.add_argument(
        "--disconnect-rate",
        type=_rate,
        default=0.0,
        help="probability of dropping the connection mid-stream",
    )
    p.add_argument(
        "--slots",
        type=_integer("an integer >= 0", 0),
        default=0,
        help="concurrent generations; others queue (default 0 = unlimited)",
    )
    p.add_argument(
        "--queue-limit",
        type=_integer("an integer >= 0", 0),
        default=0,
        help="most queued requests before 503 (default 0 = unbounded)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of text, jitter and faults")
    p.set_defaults(handler=main, sim_parser=p)


def knobs_from_args(args: argparse.Namespace) -> SimKnobs:
    """Raises ValueError naming the knob when a combination is invalid."""
    return SimKnobs(
        model=args.model,
        tokens=args.tokens,
        tokens_per_chunk=args.tokens_per_chunk,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        ttft_jitter_ms=args.ttft_jitter_ms,
        itl_jitter_ms=args.itl_jitter_ms,
        error_rate=args.error_rate,
        error_status=args.error_status,
        stall_rate=args.stall_rate,
        stall_ms=args.stall_ms,
        disconnect_rate=args.disconnect_rate,
        slots=args.slots,
        queue_limit=args.queue_limit,
    )


def main(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.sim_parser
    try:
        knobs = knobs_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2
    # Imported here so `infersight --help` does not pay for uvicorn.
    import uvicorn

    from infersight.sim.server import (
        bind_socket,
        create_sim_app,
        quiet_simulated_disconnects,
        sim_url,
        uvicorn_config,
    )

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        parser.error(f"cannot bind {args.host}:{args.port}: {exc.strerror or exc}")
    quiet_simulated_disconnects()
    app = create_sim_app(knobs, seed=args.seed)
    server = uvicorn.Server(uvicorn_config(app, log_config=uvicorn.config.LOGGING_CONFIG))
    print(sim_url(sock)[0], flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        server.run(sockets=[sock])
    return 0
