"""Rendering a notification: the one-line headline, the field list, the webhook JSON body, the
Slack message and the e-mail subject/text/HTML. Pure functions of the notification.

Every rendering carries the rule, the state, the value against the threshold or band, the
window, the dashboard link and the runbook.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
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
    """ "[ALARM] p95-ttft {model=llama}: value 2.31, threshold 2 over 5m (was OK)"."""
    tag = "TEST" if n.status == "test" else n.state
    where = f" {{{labels_text(n)}}}" if n.labels else ""
    text = (
        f"[{tag}] {n.rule}{where}: value {number(n.value)}, {condition(n)} over "
        f"{duration(n.window_s)} (was {n.previous_state})"
    )
    return text + (f", reminder {n.repeat}" if n.repeat > 0 else "")


def labels_text(n: NotificationView) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or "none"


def _detail_value(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, str):
        return value
    return json.dumps(json_safe(value), separators=(",", ":"))


def json_safe(value: Any) -> Any:
    """`value` with plain JSON types only (mappings, lists, str, numbers, bool, None)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def fields(n: NotificationView) -> list[tuple[str, str]]:
    """(label, text) for every field, in reading order; optional ones only when present."""
    status = n.status + (f" (reminder {n.repeat})" if n.repeat > 0 else "")
    rows = [
        ("Rule", n.rule),
        ("State", n.state),
        ("Previous state", n.previous_state),
        ("Status", status),
        ("Severity", n.severity),
        ("Value", number(n.value)),
        ("Condition", condition(n)),
        ("Window", duration(n.window_s)),
    ]
    if n.summary:
        rows.append(("Why", n.summary))
    rows += [
        ("Rule kind", n.kind),
        ("Labels", labels_text(n)),
        ("State since", iso_time(n.started_at) or "unknown"),
        ("Evaluated at", iso_time(n.at) or "unknown"),
    ]
    if n.detail:
        details = ", ".join(f"{k}={_detail_value(v)}" for k, v in n.detail.items())
        rows.append(("Details", details))
    rows += [
        ("Dashboard", n.dashboard_url or "none"),
        ("Runbook", n.runbook or n.runbook_url or "none"),
    ]
    if n.runbook_url and n.runbook_url not in (n.runbook or n.runbook_url):
        rows.append(("Runbook link", n.runbook_url))
    return rows


def webhook_body(n: NotificationView) -> dict[str, Any]:
    """The webhook JSON body, schema version 1 (documented in the README)."""
    banded = n.lower is not None or n.upper is not None
    return {
        "version": WEBHOOK_SCHEMA_VERSION,
        "source": "infersight",
        "rule": n.rule,
        "kind": n.kind,
        "status": n.status,
        "state": n.state,
        "previous_state": n.previous_state,
        "severity": n.severity,
        "value": n.value,
        "threshold": n.threshold,
        "band": {"lower": n.lower, "upper": n.upper} if banded else None,
        "baseline": n.baseline,
        "window_s": n.window_s,
        "labels": dict(n.labels),
        "title": headline(n),
        "summary": n.summary or None,
        "repeat": n.repeat,
        "runbook": n.runbook or None,
        "runbook_url": n.runbook_url or None,
        "dashboard_url": n.dashboard_url or None,
        "started_at": iso_time(n.started_at),
        "at": iso_time(n.at),
        "started_at_unix": n.started_at,
        "at_unix": n.at,
        "detail": json_safe(n.detail),
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
    shown = {"Rule", "State", "Dashboard", "Runbook", "Runbook link"}
    slack_fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(text)[:1900]}"}
        for label, text in fields(n)
        if label not in shown
    ]
    runbook = n.runbook or n.runbook_url
    links = [
        "*Dashboard:* " + (_slack_link(n.dashboard_url, "open") if n.dashboard_url else "none"),
        "*Runbook:* " + (_slack_link(runbook, "open")[:2500] if runbook else "none"),
    ]
    if n.runbook_url and n.runbook_url not in runbook:
        links.append("*Runbook link:* " + _slack_link(n.runbook_url, "open"))
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


_URL_IN_TEXT: Final = re.compile(r"https?://[^\s<>\"']+")


def _html_text(text: str) -> str:
    """Escaped text with its URLs as links and its line breaks kept."""
    out, pos = [], 0
    for m in _URL_IN_TEXT.finditer(text):
        url = m.group(0).rstrip(".,;:)")
        out.append(html.escape(text[pos : m.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        pos = m.start() + len(url)
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def email_html(n: NotificationView) -> str:
    colour = STATE_COLOURS.get(n.state, "#9e9e9e")
    rows = [
        f'<tr><th align="left" valign="top" style="padding:2px 12px 2px 0">{html.escape(label)}'
        f"</th><td>{_html_text(text)}</td></tr>"
        for label, text in fields(n)
    ]
    return (
        "<!DOCTYPE html><html><body>"
        f'<h2 style="color:{colour};margin:0 0 8px">{html.escape(headline(n))}</h2>'
        f"<table>{''.join(rows)}</table>"
        "</body></html>"
    )
