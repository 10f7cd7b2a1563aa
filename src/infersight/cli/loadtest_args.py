"""The `infersight loadtest` command line: the options every profile takes and the profile
subcommands (concurrency, rate, sweep, search). `loadtest_cmd` registers the command and runs it."""

from __future__ import annotations

import argparse
from typing import Any

from infersight.cli._common import add_config_option
from infersight.cli._durations import duration_arg

__all__ = ["add_common_options", "add_profiles", "duration_or_zero", "positive"]


def positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return parse


def duration_or_zero(text: str) -> float:
    """A duration like 3s, or 0 / 0s for none."""
    if text.strip().lower() in ("0", "0s"):
        return 0.0
    return duration_arg(text)


def add_common_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every profile takes. On profile parsers they default to SUPPRESS, so a
    value given before the profile name is not overwritten by the profile's default."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("endpoint and workload")
    g.add_argument(
        "--endpoint",
        metavar="URL",
        default=d(None),
        help="OpenAI-compatible API base, e.g. http://host:8000/v1 (or a gateway)",
    )
    g.add_argument("--model", default=d(None), help="model name sent in each request")
    g.add_argument(
        "--api",
        choices=("chat", "completions"),
        default=d("chat"),
        help="/v1/chat/completions (default) or /v1/completions",
    )
    g.add_argument("--api-key", default=d(None), help="bearer token (default: $OPENAI_API_KEY)")
    g.add_argument(
        "--prompts",
        metavar="FILE.jsonl",
        default=d(None),
        help='prompts, one JSON object a line: {"prompt": ...} or {"messages": ...}',
    )
    g.add_argument(
        "--input-tokens",
        default=d("128"),
        metavar="SPEC",
        help="synthetic prompt length: N, uniform:LO:HI or normal:MEAN:STD (128)",
    )
    g.add_argument(
        "--output-tokens",
        default=d("128"),
        metavar="SPEC",
        help="max_tokens per request: N, uniform:LO:HI or normal:MEAN:STD (128)",
    )
    g.add_argument(
        "--ignore-eos",
        action="store_true",
        default=d(False),
        help="send ignore_eos: true (vLLM, SGLang) so every answer has max_tokens",
    )
    g.add_argument("--seed", type=int, default=d(0), help="seed for prompts, lengths, arrivals")
    g = p.add_argument_group("levels")
    g.add_argument(
        "--duration",
        type=duration_arg,
        default=d(None),
        metavar="DUR",
        help="measured time per level, e.g. 30s (default 30s unless --requests)",
    )
    g.add_argument(
        "--requests",
        type=positive(int),
        default=d(None),
        metavar="N",
        help="measured requests per level (instead of --duration)",
    )
    g.add_argument(
        "--warmup",
        type=duration_or_zero,
        default=d(3.0),
        metavar="DUR",
        help="warm-up per level, sent but not measured (default 3s)",
    )
    g.add_argument(
        "--ramp",
        type=duration_or_zero,
        default=d(0.0),
        metavar="DUR",
        help="closed loop: start the workers evenly over DUR instead of all at once",
    )
    g.add_argument(
        "--timeout",
        type=duration_arg,
        default=d(300.0),
        metavar="DUR",
        help="per-request limit for headers and between body reads (300s)",
    )
    g.add_argument(
        "--no-auto-stop",
        dest="auto_stop",
        action="store_false",
        default=d(True),
        help="keep going when the endpoint is saturated",
    )
    g.add_argument(
        "--max-in-flight",
        type=positive(int),
        default=d(10_000),
        metavar="N",
        help="open loop: stop a level with more requests outstanding (10000)",
    )
    g = p.add_argument_group("SLOs (goodput, search)")
    for name, what in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "longest inter-token gap"),
                       ("e2e", "end-to-end latency")):  # fmt: skip
        g.add_argument(
            f"--slo-{name}-ms",
            type=positive(float),
            default=d(None),
            metavar="MS",
            help=f"{what} objective in ms",
        )
    g = p.add_argument_group("server metrics")
    g.add_argument(
        "--engine-metrics",
        metavar="URL",
        default=d(None),
        help="the engine's Prometheus /metrics (queue, KV cache, running, GPU)",
    )
    g.add_argument(
        "--gateway",
        metavar="URL",
        default=d(None),
        help="an infersight gateway whose /metrics to sample",
    )
    g.add_argument(
        "--capture-interval",
        type=duration_arg,
        default=d(1.0),
        metavar="DUR",
        help="sampling interval (1s)",
    )
    g = p.add_argument_group("capacity and cost")
    g.add_argument(
        "--target-rate",
        type=positive(float),
        default=d(None),
        metavar="R",
        help="peak requests/s to size replicas for (Little's law)",
    )
    g.add_argument(
        "--headroom",
        type=float,
        default=d(1.0),
        help="spare capacity factor for the replica count, >= 1 (1.0)",
    )
    g.add_argument(
        "--instance-type", default=d(None), help="price from the table, e.g. ml.g5.xlarge"
    )
    g.add_argument(
        "--usd-per-hour",
        type=positive(float),
        default=d(None),
        help="price of one replica per hour (beats the table)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--out",
        metavar="DIR",
        default=d(None),
        help="report directory (default ./loadtest-YYYYmmdd-HHMMSS)",
    )
    g.add_argument("--no-charts", dest="charts", action="store_false", default=d(True))
    g.add_argument(
        "--db", metavar="PATH", default=d(None), help="SQLite store; overrides store.path"
    )
    g.add_argument(
        "--no-store",
        dest="store",
        action="store_false",
        default=d(True),
        help="do not record the run in the store",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", default=d(True))
    g.add_argument(
        "--json", action="store_true", default=d(False), help="print the summary as JSON on stdout"
    )
    g.add_argument("--log-level", default=d("warning"), help="logging level (warning)")
    if not suppress:
        add_config_option(p)


def add_profiles(p: argparse.ArgumentParser) -> None:
    """The profile subcommands, each with its own options and the common ones."""
    prof = p.add_subparsers(dest="profile", metavar="PROFILE")
    c = prof.add_parser("concurrency", help="closed loop: N requests always in flight")
    c.add_argument("n", type=positive(int), metavar="N")
    r = prof.add_parser("rate", help="open loop: R requests/s (Poisson, or gamma with burstiness)")
    r.add_argument("rate", type=positive(float), metavar="R")
    s = prof.add_parser("sweep", help="a ladder of concurrency or rate levels")
    ladder = s.add_mutually_exclusive_group()
    ladder.add_argument(
        "--concurrency",
        dest="ladder_c",
        metavar="LIST",
        help="e.g. 1,2,4,8,16 or geom:1:64 (default 1..128 doubling)",
    )
    ladder.add_argument("--rates", dest="ladder_r", metavar="LIST", help="e.g. 1,2,5,10,20")
    q = prof.add_parser("search", help="highest rate where enough requests meet every SLO")
    q.add_argument(
        "--attainment",
        type=float,
        default=0.99,
        help="share of requests that must meet every SLO (0.99)",
    )
    q.add_argument(
        "--start-rate",
        type=positive(float),
        default=None,
        help="first probe rate (default: 1 / single-request E2E)",
    )
    q.add_argument("--max-rate", type=positive(float), default=10_000.0)
    q.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="stop when pass and fail rates are this close (0.05)",
    )
    q.add_argument("--max-probes", type=int, default=16)
    for sp in (r, s, q):
        sp.add_argument(
            "--burstiness",
            type=positive(float),
            default=1.0,
            help="gamma shape of inter-arrival gaps; 1 = Poisson, < 1 burstier",
        )
    for sp in (r, s):
        sp.add_argument(
            "--max-concurrency",
            type=positive(int),
            default=None,
            help="open loop: most requests in flight (arrivals wait beyond it)",
        )
    for sp in (c, r, s, q):
        add_common_options(sp, suppress=True)
