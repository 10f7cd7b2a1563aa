"""Load levels, ladders and the workload's request bodies (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infersight.loadtest.profiles import Level, parse_ladder, sweep_levels
from infersight.loadtest.workload import (
    LengthSpec,
    Workload,
    WorkloadError,
    load_prompts,
    parse_length,
)


def test_level_labels_and_validation() -> None:
    assert Level("concurrency", 8, duration_s=5).label == "concurrency 8"
    lv = Level("rate", 2.5, num_requests=10, burstiness=0.5, max_concurrency=4)
    assert lv.label == "rate 2.5/s burstiness 0.5 max 4" and lv.rate_per_s == 2.5
    with pytest.raises(ValueError, match="exactly one of duration_s and num_requests"):
        Level("rate", 1.0)
    with pytest.raises(ValueError, match="whole number"):
        Level("concurrency", 1.5, duration_s=1)
    with pytest.raises(ValueError, match="burstiness"):
        Level("rate", 1.0, duration_s=1, burstiness=0)
    with pytest.raises(ValueError, match="ramp_s"):
        Level("concurrency", 2, duration_s=1, ramp_s=-1)


def test_ladders() -> None:
    assert parse_ladder("1,2,4", mode="concurrency") == [1, 2, 4]
    assert parse_ladder("geom:1:16", mode="concurrency") == [1, 2, 4, 8, 16]
    assert parse_ladder("0.5,2.5", mode="rate") == [0.5, 2.5]
    for bad in ("", "a,b", "geom:4:1", "0,1"):
        with pytest.raises(ValueError, match="invalid ladder"):
            parse_ladder(bad, mode="rate")
    with pytest.raises(ValueError, match="whole numbers"):
        parse_ladder("1.5", mode="concurrency")
    levels = sweep_levels("concurrency", [4, 1, 2, 2], duration_s=1.0, warmup_s=0.5)
    assert [lv.value for lv in levels] == [1, 2, 4] and levels[0].warmup_s == 0.5


def test_length_specs() -> None:
    assert parse_length("128") == LengthSpec("fixed", 128)
    assert parse_length("uniform:4:8") == LengthSpec("uniform", 4, 8)
    assert parse_length("normal:100:10").mean == 100
    for bad in ("0", "uniform:8:4", "normal:x:1", "poisson:3", ""):
        with pytest.raises(WorkloadError, match="invalid token length"):
            parse_length(bad)


def test_synthetic_bodies_are_seeded_and_sized() -> None:
    w1 = Workload(model="m", input_tokens=parse_length("uniform:10:20"),
                  output_tokens=parse_length("normal:50:5"), ignore_eos=True, seed=4)  # fmt: skip
    w2 = Workload(model="m", input_tokens=parse_length("uniform:10:20"),
                  output_tokens=parse_length("normal:50:5"), ignore_eos=True, seed=4)  # fmt: skip
    a = [w1.next_request() for _ in range(20)]
    b = [w2.next_request() for _ in range(20)]
    assert [r.body for r in a] == [r.body for r in b]
    body = json.loads(a[3].body)
    words = body["messages"][0]["content"].split()
    assert words[0] == "3" and 10 <= len(words) <= 20 and len(words) == a[3].prompt_tokens_est
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["ignore_eos"] is True and body["max_tokens"] == a[3].max_tokens
    assert all(r.max_tokens is not None and r.max_tokens >= 1 for r in a)


def test_completions_api_and_no_max_tokens() -> None:
    w = Workload(model="m", api="completions", input_tokens=LengthSpec("fixed", 5),
                 output_tokens=None)  # fmt: skip
    body = json.loads(w.next_request().body)
    assert w.path == "/completions" and len(body["prompt"].split()) == 5
    assert "max_tokens" not in body and "messages" not in body


def test_prompt_file(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(
        '{"prompt": "one two three", "max_tokens": 7}\n\n'
        '{"messages": [{"role": "user", "content": "hi there"}]}\n'
    )
    items = load_prompts(f)
    w = Workload(model="m", prompts=items, output_tokens=LengthSpec("fixed", 9))
    r0, r1, r2 = (w.next_request() for _ in range(3))
    assert (r0.max_tokens, r0.prompt_tokens_est) == (7, 3)
    assert json.loads(r1.body)["messages"] == [{"role": "user", "content": "hi there"}]
    assert r1.max_tokens == 9 and r2.max_tokens == 7  # cycled


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{bad json\n", r"p.jsonl:1: not valid JSON"),
        ('{"x": 1}\n', r"p.jsonl:1: expected a non-empty 'prompt'"),
        ('{"prompt": "a", "max_tokens": 0}\n', r"p.jsonl:1: max_tokens must be"),
        ("\n", "has no prompts"),
    ],
)
def test_prompt_file_errors_name_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(text)
    with pytest.raises(WorkloadError, match=match):
        load_prompts(f)


def test_missing_prompt_file() -> None:
    with pytest.raises(WorkloadError, match="cannot read prompt file"):
        load_prompts("/nonexistent/prompts.jsonl")
