"""Rendering a notification: the one-line headline, the field list, the webhook JSON body, the
Slack message and the e-mail subject/text/HTML. Pure functions of the notification.

Every rendering carries the rule, the state, the value against the threshold or band, the
window, the dashboard link and the runbook.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from infersight.alerting.notifier_base import NotificationView

WEBHOOK_SCHEMA_VERSION: Final = 1

STATE_COLOURS: Final[dict[str, str]] = {
    "ALARM": "#d93025",  # red
    "OK": "#2e7d32",  # green
    "INSUFFICIENT_DATA": "#9e9e9e",  # grey
}
_STATE_EMOJI: Final[dict[str, str]] = {
    "ALARM": ":rotating_light:",
    "OK": ":white_check_mark:",
    "INSUFFICIENT_DATA": ":grey_question:",
}


def number(x: float | None) -> str:
    """A value as people read it: 4 significant digits, "none" when absent."""
    if x is None:
        return "none"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"


def duration(seconds: float) -> str:
    """300 -> "5m", 5400 -> "1h30m", 45 -> "45s", 0.5 -> "0.5s"."""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    s = int(seconds)
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


def iso_time(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC ("2024-05-01T12:00:00Z"); None stays None."""
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def is_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text.strip()


def condition(n: NotificationView) -> str:
    """What the value is compared with: "threshold 2", "band 1.2 to 3.4 (baseline 2)"."""
    parts: list[str] = []
    if n.threshold is not None:
        parts.append(f"threshold {number(n.threshold)}")
    if n.lower is not None or n.upper is not None:
        low = number(n.lower) if n.lower is not None else "-inf"
        high = number(n.upper) if n.upper is not None else "+inf"
        parts.append(f"band {low} to {high}")
    if n.baseline is not None:
        parts.append(f"baseline {number(n.baseline)}")
    return ", ".join(parts) or "no threshold"


def headline(n: NotificationView) -> str:
    """ "[ALARM] p95-ttft: value 2.31, threshold 2 over 5m (was OK)"."""
    return (
        f"[{n.state}] {n.rule}: value {number(n.value)}, {condition(n)} over "
        f"{duration(n.window_s)} (was {n.previous_state})"
    )


def labels_text(n: NotificationView) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or "none"


def fields(n: NotificationView) -> list[tuple[str, str]]:
    """(label, text) for every field, in reading order."""
    rows = [
        ("Rule", n.rule),
        ("State", n.state),
        ("Previous state", n.previous_state),
        ("Severity", n.severity),
        ("Value", number(n.value)),
        ("Condition", condition(n)),
        ("Window", duration(n.window_s)),
        ("Rule kind", n.kind),
        ("Labels", labels_text(n)),
        ("State since", iso_time(n.started_at) or "unknown"),
        ("Evaluated at", iso_time(n.at) or "unknown"),
        ("Dashboard", n.dashboard_url or "none"),
        ("Runbook", n.runbook or "none"),
    ]
    return rows


def webhook_body(n: NotificationView) -> dict[str, Any]:
    """The webhook JSON body, schema version 1 (documented in the README)."""
    banded = n.lower is not None or n.upper is not None or n.baseline is not None
    return {
        "version": WEBHOOK_SCHEMA_VERSION,
        "source": "infersight",
        "rule": n.rule,
        "kind": n.kind,
        "state": n.state,
        "previous_state": n.previous_state,
        "severity": n.severity,
        "value": n.value,
        "threshold": n.threshold,
        "band": {"lower": n.lower, "upper": n.upper, "baseline": n.baseline} if banded else None,
        "window_s": n.window_s,
        "labels": dict(n.labels),
        "summary": headline(n),
        "runbook": n.runbook or None,
        "dashboard_url": n.dashboard_url or None,
        "started_at": iso_time(n.started_at),
        "at": iso_time(n.at),
        "started_at_unix": n.started_at,
        "at_unix": n.at,
    }


def _mrkdwn(text: str) -> str:
    """Slack's mrkdwn needs &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(text: str, label: str) -> str:
    if is_url(text):
        return f"<{text.strip()}|{label}>"
    return _mrkdwn(text)


def slack_payload(n: NotificationView) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the notification line), a headline block, and
    an attachment coloured by state holding the fields, the dashboard link and the runbook."""
    emoji = _STATE_EMOJI.get(n.state, "")
    title = f"{emoji} *{_mrkdwn(n.state)}* `{_mrkdwn(n.rule)}`".strip()
    shown = {"Rule", "State", "Dashboard", "Runbook"}
    slack_fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(text)[:1900]}"}
        for label, text in fields(n)
        if label not in shown
    ]
    links = [
        "*Dashboard:* " + (_slack_link(n.dashboard_url, "open") if n.dashboard_url else "none"),
        "*Runbook:* " + (_slack_link(n.runbook, "open")[:2800] if n.runbook else "none"),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "fields": slack_fields[i : i + 10]}
        for i in range(0, len(slack_fields), 10)
    ]
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)}})
    return {
        "text": headline(n),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{title}\n{_mrkdwn(headline(n))}"},
            }
        ],
        "attachments": [
            {
                "color": STATE_COLOURS.get(n.state, "#9e9e9e"),
                "fallback": headline(n),
                "blocks": blocks,
            }
        ],
    }


def email_subject(n: NotificationView, prefix: str) -> str:
    text = f"{prefix} {headline(n)}" if prefix else headline(n)
    return " ".join(text.split())  # one line whatever the rule name holds


def email_text(n: NotificationView) -> str:
    width = max(len(label) for label, _ in fields(n))
    lines = [headline(n), ""]
    lines += [f"{label + ':':<{width + 1}} {text}" for label, text in fields(n)]
    return "\n".join(lines) + "\n"


def email_html(n: NotificationView) -> str:
    colour = STATE_COLOURS.get(n.state, "#9e9e9e")
    rows = []
    for label, text in fields(n):
        cell = html.escape(text)
        if label in ("Dashboard", "Runbook") and is_url(text):
            cell = f'<a href="{html.escape(text.strip(), quote=True)}">{cell}</a>'
        elif label == "Runbook":
            cell = cell.replace("\n", "<br>")
        rows.append(
            f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
            f"<td>{cell}</td></tr>"
        )
    return (
        "<!DOCTYPE html><html><body>"
        f'<h2 style="color:{colour};margin:0 0 8px">{html.escape(headline(n))}</h2>'
        f"<table>{''.join(rows)}</table>"
        "</body></html>"
    )
