from __future__ import annotations

import pytest

from infersight.core.capacity import littles_law_concurrency, replicas_needed


def test_littles_law() -> None:
    # 12 req/s × 2.5 s = 30 requests in flight
    assert littles_law_concurrency(12.0, 2.5) == pytest.approx(30.0)
    assert littles_law_concurrency(0.0, 2.5) == 0.0


def test_replicas_needed() -> None:
    # 30 in flight / 8 per replica = 3.75 → 4
    assert replicas_needed(12.0, 2.5, 8.0) == 4
    # with 20 % headroom: 30 × 1.2 = 36 / 8 = 4.5 → 5
    assert replicas_needed(12.0, 2.5, 8.0, headroom=1.2) == 5
    # exactly 16 in flight / 8 = 2 replicas, not 3
    assert replicas_needed(4.8, 10 / 3, 8.0) == 2
    # 0.3 × 26.67 = 8.000000000000002 in floating point: still 1 replica
    assert replicas_needed(0.1 * 3, 80 / 3, 8.0) == 1
    # 16.5 / 8 → 3
    assert replicas_needed(5.5, 3.0, 8.0) == 3


def test_replicas_needed_floor() -> None:
    assert replicas_needed(0.0, 2.0, 8.0) == 1
    assert replicas_needed(0.0, 2.0, 8.0, min_replicas=0) == 0
    assert replicas_needed(1.0, 1.0, 8.0, min_replicas=3) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"peak_rate_per_s": -1.0}, "peak_rate_per_s"),
        ({"mean_e2e_s": float("nan")}, "mean_e2e_s"),
        ({"target_concurrency_per_replica": 0.0}, "target_concurrency_per_replica must be"),
        ({"headroom": 0.8}, "headroom must be a finite number >= 1"),
        ({"min_replicas": -1}, "min_replicas"),
    ],
)
def test_replicas_needed_rejects_bad_inputs(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, float] = {
        "peak_rate_per_s": 1.0,
        "mean_e2e_s": 1.0,
        "target_concurrency_per_replica": 8.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        replicas_needed(
            args["peak_rate_per_s"],
            args["mean_e2e_s"],
            args["target_concurrency_per_replica"],
            headroom=args.get("headroom", 1.0),
            min_replicas=int(args.get("min_replicas", 1)),
        )
