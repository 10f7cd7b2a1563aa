"""Rendering: every message carries rule, state, value vs threshold/band, window, dashboard
link and runbook; the webhook body follows schema version 1; Slack and HTML are escaped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tests_support.notifications import firing_note

from infersight.alerting.model import Notification
from infersight.alerting.notifier_format import (
    STATE_COLOURS,
    WEBHOOK_SCHEMA_VERSION,
    condition,
    duration,
    email_html,
    email_subject,
    email_text,
    headline,
    iso_time,
    number,
    slack_payload,
    webhook_body,
)


def Note(**changes: Any) -> Notification:
    """The shared firing notification with a value that needs rounding, two labels and a
    dashboard link with a query string; `changes` applied."""
    return firing_note(
        **{
            "value": 2.3125,
            "labels": {"model": "llama", "upstream": "a"},
            "dashboard_url": "http://127.0.0.1:8400/dashboard/rules/p95-ttft?window=15m",
            **changes,
        }
    )


def test_small_formatters() -> None:
    assert number(2.3125) == "2.312"
    assert number(None) == "none"
    assert number(1500000.0) == "1.5e+06"
    assert duration(300) == "5m"
    assert duration(5400) == "1h30m"
    assert duration(45) == "45s"
    assert duration(0.5) == "0.5s"
    assert iso_time(1_700_000_000.0) == "2023-11-14T22:13:20Z"
    assert iso_time(None) is None


def test_condition_names_threshold_or_band() -> None:
    assert condition(Note()) == "threshold 2"
    band = Note(threshold=None, lower=0.5, upper=1.5, baseline=1.0)
    assert condition(band) == "band 0.5 to 1.5, baseline 1"
    assert condition(Note(threshold=None, upper=3.0)) == "band -inf to 3"
    assert condition(Note(threshold=None)) == "no threshold"


def test_headline() -> None:
    assert headline(Note()) == (
        "[ALARM] p95-ttft {model=llama, upstream=a}: value 2.312, threshold 2 over 5m (was OK)"
    )
    assert headline(Note(labels={}, status="test")).startswith("[TEST] p95-ttft: value")
    assert headline(Note(repeat=2)).endswith("(was OK), reminder 2")


def test_webhook_body_schema_v1() -> None:
    body = webhook_body(
        Note(summary="2 of 3 datapoints above 2", detail={"budget_remaining": 0.25})
    )
    assert json.loads(json.dumps(body)) == body  # plain JSON
    assert body == {
        "version": WEBHOOK_SCHEMA_VERSION,
        "source": "infersight",
        "rule": "p95-ttft",
        "kind": "threshold",
        "status": "firing",
        "state": "ALARM",
        "previous_state": "OK",
        "severity": "critical",
        "value": 2.3125,
        "threshold": 2.0,
        "band": None,
        "baseline": None,
        "window_s": 300.0,
        "labels": {"model": "llama", "upstream": "a"},
        "title": headline(Note()),
        "summary": "2 of 3 datapoints above 2",
        "repeat": 0,
        "runbook": "https://runbooks.example.com/ttft",
        "runbook_url": None,
        "dashboard_url": "http://127.0.0.1:8400/dashboard/rules/p95-ttft?window=15m",
        "started_at": "2023-11-14T22:13:20Z",
        "at": "2023-11-14T22:18:20Z",
        "started_at_unix": 1_700_000_000.0,
        "at_unix": 1_700_000_300.0,
        "detail": {"budget_remaining": 0.25},
    }
    band = webhook_body(Note(threshold=None, lower=0.5, upper=1.5, baseline=1.0))
    assert band["band"] == {"lower": 0.5, "upper": 1.5} and band["baseline"] == 1.0
    empty = webhook_body(Note(runbook="", dashboard_url="", value=None))
    assert empty["runbook"] is None and empty["dashboard_url"] is None and empty["value"] is None


def _slack_text(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload)


def test_slack_payload_has_text_blocks_colour_and_links() -> None:
    payload = slack_payload(Note())
    assert payload["text"] == headline(Note())
    assert payload["blocks"][0]["type"] == "section"
    attachment = payload["attachments"][0]
    assert attachment["color"] == STATE_COLOURS["ALARM"]
    text = _slack_text(payload)
    for needle in ("p95-ttft", "ALARM", "2.312", "threshold 2", "5m", "critical", "model=llama"):
        assert needle in text, needle
    links = attachment["blocks"][-1]["text"]["text"]
    assert "<http://127.0.0.1:8400/dashboard/rules/p95-ttft?window=15m|open>" in links
    assert "<https://runbooks.example.com/ttft|open>" in links
    for block in attachment["blocks"][:-1]:
        assert len(block["fields"]) <= 10  # Slack's limit per section
    assert slack_payload(Note(state="OK"))["attachments"][0]["color"] == STATE_COLOURS["OK"]


def test_slack_escapes_mrkdwn_and_keeps_text_runbooks() -> None:
    note = Note(rule="a<b>&c", runbook="Restart the <vllm> pod & check GPU memory")
    text = _slack_text(slack_payload(note))
    assert "a&lt;b&gt;&amp;c" in text
    assert "Restart the &lt;vllm&gt; pod &amp; check GPU memory" in text


def test_email_subject_text_and_html() -> None:
    note = Note()
    assert email_subject(note, "[infersight]") == f"[infersight] {headline(note)}"
    assert "\n" not in email_subject(replace(note, rule="two\nlines"), "")
    text = email_text(note)
    for needle in (
        "p95-ttft",
        "State:",
        "ALARM",
        "Value:",
        "2.312",
        "threshold 2",
        "Window:",
        "5m",
        "http://127.0.0.1:8400/dashboard/rules/p95-ttft?window=15m",
        "https://runbooks.example.com/ttft",
        "model=llama, upstream=a",
        "2023-11-14T22:13:20Z",
    ):
        assert needle in text, needle
    page = email_html(replace(note, rule="<script>x</script>"))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<a href="https://runbooks.example.com/ttft">' in page
    assert STATE_COLOURS["ALARM"] in page
    plain = email_html(replace(note, runbook="line one\nsee https://x.example/rb."))
    assert 'line one<br>see <a href="https://x.example/rb">https://x.example/rb</a>.' in plain


def test_optional_fields_show_when_present() -> None:
    note = Note(
        summary="2 of 3 datapoints above 2",
        detail={"burn_rate_1h": 14.4, "windows": ["1h", "5m"]},
        runbook="Scale out the upstream.",
        runbook_url="https://runbooks.example.com/ttft",
        repeat=1,
    )
    text = email_text(note)
    assert "Why:" in text and "2 of 3 datapoints above 2" in text
    assert 'burn_rate_1h=14.4, windows=["1h","5m"]' in text
    assert "Status:" in text and "firing (reminder 1)" in text
    assert "Runbook link:" in text and "https://runbooks.example.com/ttft" in text
    links = slack_payload(note)["attachments"][0]["blocks"][-1]["text"]["text"]
    assert "*Runbook:* Scale out the upstream." in links
    assert "*Runbook link:* <https://runbooks.example.com/ttft|open>" in links
    # the engine appends the runbook URL to the text: it is then not repeated
    both = Note(runbook="Scale out. https://rb.example/x", runbook_url="https://rb.example/x")
    assert "Runbook link" not in email_text(both)
    assert "Why:" not in email_text(Note()) and "Details:" not in email_text(Note())
