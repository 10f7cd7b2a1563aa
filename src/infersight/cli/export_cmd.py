"""`infersight export`: configuration for tools that watch infersight from outside.

    infersight export prometheus-rules --config infersight.yaml --out infersight.rules.yml
    infersight export grafana --out infersight-dashboard.json

prometheus-rules translates alerting.rules into Prometheus recording and alerting rules over
the gateway's /metrics; grafana writes a dashboard JSON model to import. Without --out the file
goes to stdout. Exit codes: 0 written; 1 the file could not be written; 2 bad arguments, config
or a rule that cannot be translated.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from rich.console import Console

from infersight.cli._common import CliError, add_config_option, fail, settings_from_args
from infersight.exporters.grafana import dashboard_json
from infersight.exporters.prom_rules import ExportError, prometheus_rules


def _rules(args: argparse.Namespace) -> str:
    settings = settings_from_args(args)
    try:
        return prometheus_rules(settings.alerting)
    except ExportError as exc:
        raise CliError(f"{exc} (in alerting.rules)") from None


def _grafana(args: argparse.Namespace) -> str:
    return dashboard_json(args.title)


# target -> (help, description, renderer, takes --config)
TARGETS: Final[dict[str, tuple[str, str, Callable[[argparse.Namespace], str], bool]]] = {
    "prometheus-rules": (
        "Prometheus recording and alerting rules equivalent to alerting.rules",
        "Translate the configured alert rules (threshold, anomaly, SLO burn-rate pairs) into a "
        "Prometheus rule file over the gateway's /metrics. Differences from infersight's own "
        "evaluation are written as comments in the file.",
        _rules,
        True,
    ),
    "grafana": (
        "a Grafana dashboard JSON (serving, GPU, engine, cost, quality, alerts)",
        "A dashboard model to import in Grafana; the Prometheus data source is chosen at import "
        "(${DS_PROMETHEUS}).",
        _grafana,
        False,
    ),
}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="write Prometheus rules or a Grafana dashboard for infersight's /metrics",
        description="Files for running Prometheus, Alertmanager and Grafana against infersight "
        "(see docs/prometheus.md).",
    )
    targets = p.add_subparsers(dest="target", metavar="TARGET")
    for name, (help_text, description, _, takes_config) in TARGETS.items():
        t: argparse.ArgumentParser = targets.add_parser(
            name, help=help_text, description=description
        )
        t.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
        if takes_config:
            add_config_option(t)
        if name == "grafana":
            t.add_argument("--title", default="infersight: LLM inference", help="dashboard title")
        t.set_defaults(handler=main)
    p.set_defaults(handler=lambda _args: _no_target(p))


def _no_target(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    render = TARGETS[args.target][2]
    try:
        text = render(args)
    except CliError as exc:
        return fail(str(exc))
    if not args.out:
        sys.stdout.write(text)
        return 0
    path = Path(args.out).expanduser()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(
            f"cannot write {str(path)!r}: {exc.strerror or exc} (check that the folder exists "
            "and is writable, or leave out --out to print to stdout)"
        )
        return 1
    Console(stderr=True, highlight=False).print(f"wrote {args.target} to {path}")
    return 0
