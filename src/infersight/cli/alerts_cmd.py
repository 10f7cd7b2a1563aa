"""`infersight alerts`: rules and their state, history, test notifications, silences.

    infersight alerts list                          rules, state, last value (from the store)
    infersight alerts history --since 24h           transitions, notifications, silences
    infersight alerts test ttft_p95_high            evaluate now, send a test notification
    infersight alerts silence gpu_idle --for 2h --reason "maintenance"
    infersight alerts unsilence gpu_idle
    infersight alerts runbook kv_cache_high         what it means, what to look at, what fixes it
    infersight alerts metrics                       series names rules may use

State is what the running service (`infersight run`) last stored; silences are written to the
store and taken up by the engine at its next evaluation. Exit codes: 0 ok; 1 no database, or a
test notification that reached no notifier; 2 bad arguments, config or rule name.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from infersight.alerting.engine import AlertEngine
from infersight.alerting.notifiers import build_notifiers
from infersight.alerting.rule_pack import runbook_for
from infersight.alerting.rules import FREE_PREFIXES, KNOWN_METRICS
from infersight.alerting.state_store import add_silence, end_silences
from infersight.alerting.status import AlertStatus
from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.cli._durations import duration_arg, format_duration
from infersight.clock import SystemClock
from infersight.core.clock import Clock
from infersight.settings import ConfigError, Settings
from infersight.store.base import Store

CLOCK: Clock = SystemClock()  # tests replace it with a FakeClock
NO_DATABASE_HINT: Final = (
    "Start infersight (`infersight run --config FILE`) so it evaluates alerts, or point --db / "
    "--config at the store it writes."
)
FORMATS: Final = ("table", "json")
STATE_STYLE: Final = {
    "ALARM": "bold red",
    "PENDING": "yellow",
    "INSUFFICIENT_DATA": "dim",
    "OK": "green",
    "NO_DATA": "dim",
}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "alerts",
        help="alert rules, state, history, test notifications and silences",
        description="Show alert rules with their state, the alert history, send a test "
        "notification, or silence a rule.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        a = actions.add_parser(name, help=help_text, description=help_text)
        add_config_option(a)
        a.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
        a.set_defaults(handler=handler)
        return a

    ls = action("list", "rules with their state and last value", _list)
    ls.add_argument("--format", choices=FORMATS, default="table", help="output format")
    hist = action("history", "alert events: transitions, notifications, silences", _history)
    hist.add_argument(
        "--since",
        type=duration_arg,
        default=86_400.0,
        metavar="DURATION",
        help="how far back: 30m, 24h, 7d (default: 24h)",
    )
    hist.add_argument("--rule", help="only this rule's events")
    hist.add_argument("--limit", type=int, default=200, help="events at most (default: 200)")
    hist.add_argument("--format", choices=FORMATS, default="table", help="output format")
    test = action("test", "evaluate a rule now and send a test notification", _test)
    test.add_argument("rule", metavar="RULE")
    sil = action("silence", "stop notifications of a rule for a while", _silence)
    sil.add_argument("rule", metavar="RULE", help="rule name, or '*' for every rule")
    sil.add_argument(
        "--for",
        dest="duration",
        type=duration_arg,
        metavar="DURATION",
        help="how long: 30m, 2h, 1d (default: alerting.default_silence_s)",
    )
    sil.add_argument("--reason", default="", help="why (shown in history and notifications)")
    unsil = action("unsilence", "end a rule's silences now", _unsilence)
    unsil.add_argument("rule", metavar="RULE")
    rb = action("runbook", "print a rule's runbook", _runbook)
    rb.add_argument("rule", metavar="RULE")
    action("metrics", "series names alert rules may use", _metrics)

    def usage(_: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=usage)


def _settings(args: argparse.Namespace) -> Settings:
    return settings_from_args(args, db_path=args.db)


def _with_store(args: argparse.Namespace, body: Callable[[Settings, Store], int]) -> int:
    """Run `body` with the settings and the open store; a CliError it raises is reported."""
    try:
        settings = _settings(args)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            return body(settings, store)
    except CliError as exc:
        return fail(str(exc), exit_code=exc.exit_code)


def _check_rule(settings: Settings, name: str, *, wildcard: bool = False) -> None:
    if wildcard and name == "*":
        return
    if settings.alerting.rule(name) is None:
        known = ", ".join(r.name for r in settings.alerting.rules) or "none configured"
        raise CliError(f"no alert rule named {name!r}; rules: {known}")


# -- list / history ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    def body(settings: Settings, store: Store) -> int:
        rules = AlertStatus(settings.alerting, store).rules(CLOCK.now())
        if args.format == "json":
            sys.stdout.write(json.dumps({"rules": rules}, indent=2) + "\n")
            return 0
        table = Table(title="alert rules", title_justify="left")
        for col in ("rule", "kind", "severity", "state", "instance", "value", "threshold", "since"):
            table.add_column(col, justify="right" if col in ("value", "threshold") else "left")
        now = CLOCK.now()
        for r in rules:
            rows = r["instances"] or [None]
            for i, inst in enumerate(rows):
                state = inst["state"] if inst else r["state"]
                if r["silenced_until"] and i == 0:
                    state += (
                        f" (silenced {format_duration(round(max(r['silenced_until'] - now, 1)))})"
                    )
                table.add_row(
                    r["name"] if i == 0 else "",
                    r["kind"] if i == 0 else "",
                    (inst["severity"] if inst else r["severity"]) or "",
                    f"[{STATE_STYLE.get(state.split()[0], '')}]{state}[/]",
                    (inst["instance"] or "-") if inst else "-",
                    _num(inst["value"]) if inst else "-",
                    _condition(inst) if inst else "-",
                    _ago(inst["since"], now) if inst else "never evaluated",
                )
        Console(highlight=False).print(table)
        return 0

    return _with_store(args, body)


def _history(args: argparse.Namespace) -> int:
    def body(settings: Settings, store: Store) -> int:
        now = CLOCK.now()
        events = AlertStatus(settings.alerting, store).history(
            now - args.since, now + 1, args.limit, rule=args.rule
        )
        if args.format == "json":
            sys.stdout.write(json.dumps({"events": events}, indent=2) + "\n")
            return 0
        if not events:
            Console(stderr=True).print(f"no alert events in the last {format_duration(args.since)}")
            return 0
        table = Table(
            title=f"alert history, last {format_duration(args.since)}", title_justify="left"
        )
        for col in ("time (UTC)", "rule", "event", "instance", "state", "message"):
            table.add_column(col)
        for e in events:
            change = f"{e['previous_state']} → {e['state']}" if e["previous_state"] else e["state"]
            table.add_row(
                _time(e["ts"]),
                e["rule"],
                e["kind"],
                e["instance"] or "-",
                change or "",
                e["message"],
            )
        Console(highlight=False).print(table)
        return 0

    return _with_store(args, body)


# -- test / silences / runbook / metrics -------------------------------------------------------


def _test(args: argparse.Namespace) -> int:
    def body(settings: Settings, store: Store) -> int:
        _check_rule(settings, args.rule)
        try:
            notifiers = build_notifiers(settings.alerting.notifiers)
        except ConfigError as exc:
            raise CliError(str(exc)) from None
        engine = AlertEngine(settings.alerting, store=store, clock=CLOCK, notifiers=notifiers)
        n, results = asyncio.run(engine.test_rule(args.rule, CLOCK.now()))
        out = Console(highlight=False)
        out.print(f"{n.title}: state {n.state}, value {_num(n.value)}; {n.summary}", markup=False)
        for r in results:
            if r.delivered:
                out.print(f"  [green]sent[/] to {r.notifier} ({r.attempts} attempt(s))")
            else:
                out.print(f"  [red]failed[/] {r.notifier}: {r.error}", markup=True)
        return 0 if results and all(r.delivered for r in results) else 1

    return _with_store(args, body)


def _silence(args: argparse.Namespace) -> int:
    def body(settings: Settings, store: Store) -> int:
        _check_rule(settings, args.rule, wildcard=True)
        duration = args.duration or settings.alerting.default_silence_s
        who = _user()
        s = add_silence(
            store.alerts,
            args.rule,
            now=CLOCK.now(),
            duration_s=duration,
            reason=args.reason,
            created_by=who,
        )
        what = "every rule" if args.rule == "*" else f"rule {args.rule!r}"
        print(f"silenced {what} for {format_duration(duration)}, until {_time(s.expires_at)} UTC")
        return 0

    return _with_store(args, body)


def _unsilence(args: argparse.Namespace) -> int:
    def body(settings: Settings, store: Store) -> int:
        _check_rule(settings, args.rule, wildcard=True)
        ended = end_silences(store.alerts, args.rule, now=CLOCK.now())
        print(
            f"ended {ended} silence(s) of {args.rule!r}"
            if ended
            else f"{args.rule!r} was not silenced"
        )
        return 0

    return _with_store(args, body)


def _runbook(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        _check_rule(settings, args.rule)
    except CliError as exc:
        return fail(str(exc))
    rule = settings.alerting.rule(args.rule)
    assert rule is not None
    text = runbook_for(rule.name, rule.runbook) or "(this rule has no runbook text)"
    print(
        text.replace(". Look at:", ".\nLook at:").replace(
            ". Usually fixed by:", ".\nUsually fixed by:"
        )
    )
    if rule.runbook_url:
        print(f"More: {rule.runbook_url}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    print("\n".join(sorted(KNOWN_METRICS)))
    print(f"(and any series starting with {', '.join(FREE_PREFIXES)})")
    try:
        settings = _settings(args)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            extra = [n for n in store.metric_names() if n not in KNOWN_METRICS]
    except CliError:
        return 0
    if extra:
        print("\nother series in the store (use allow_unknown_metric: true):\n" + "\n".join(extra))
    return 0


# -- formatting --------------------------------------------------------------------------------


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _condition(inst: dict[str, Any]) -> str:
    if inst.get("lower") is not None or inst.get("upper") is not None:
        return f"{_num(inst['lower'])}..{_num(inst['upper'])}"
    return _num(inst.get("threshold"))


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(ts: float, now: float) -> str:
    return f"{format_duration(max(round(now - ts), 1))} ago"
