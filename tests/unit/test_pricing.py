from __future__ import annotations

from pathlib import Path

import pytest

from infersight.pricing import (
    EC2_SOURCE,
    PRICE_TABLE,
    PRICE_TABLE_AS_OF,
    SAGEMAKER_SOURCE,
    UnknownInstanceTypeError,
    family_options,
    instance_price,
    instance_types,
    resolve_pricing,
    same_family,
)
from infersight.settings import ConfigError, PricingSettings, load_settings

SIZES = ["xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"]


def test_table_covers_the_required_types() -> None:
    types = set(instance_types())
    for family in ("ml.g5", "ml.g6", "g5", "g6"):
        assert {f"{family}.{size}" for size in SIZES} <= types
    assert {"ml.p4d.24xlarge", "ml.p5.48xlarge", "p4d.24xlarge", "p5.48xlarge"} <= types
    assert len(types) == len(PRICE_TABLE)  # no duplicates


def test_every_row_is_complete_and_dated() -> None:
    for row in PRICE_TABLE:
        assert row.usd_per_hour > 0
        assert row.gpus_per_instance >= 1
        assert row.gpu_memory_gib_per_gpu > 0
        assert row.gpu_model.startswith("NVIDIA ")
        assert row.region == "us-east-1"
        assert row.source in (SAGEMAKER_SOURCE, EC2_SOURCE)
        assert row.source == (
            SAGEMAKER_SOURCE if row.instance_type.startswith("ml.") else EC2_SOURCE
        )
        assert row.as_of == PRICE_TABLE_AS_OF


def test_lookup() -> None:
    row = instance_price("ml.g5.xlarge")
    assert (row.gpu_model, row.gpus_per_instance, row.gpu_memory_gib_per_gpu) == (
        "NVIDIA A10G",
        1,
        24.0,
    )
    assert row.usd_per_hour == pytest.approx(1.408)
    assert row.family == "ml.g5"
    assert instance_price("  ML.G5.XLARGE ") is row
    p5 = instance_price("p5.48xlarge")
    assert (p5.gpus_per_instance, p5.gpu_memory_gib) == (8, 640.0)
    assert p5.usd_per_gpu_hour == pytest.approx(p5.usd_per_hour / 8)


def test_unknown_instance_type_suggests_close_matches() -> None:
    with pytest.raises(UnknownInstanceTypeError) as info:
        instance_price("ml.g5.xlarg")
    err = info.value
    assert "ml.g5.xlarge" in err.suggestions
    message = str(err)
    assert "unknown instance type 'ml.g5.xlarg'" in message
    assert "did you mean" in message and "ml.g5.xlarge" in message
    assert "pricing.usd_per_hour" in message
    assert PRICE_TABLE_AS_OF.isoformat() in message
    assert isinstance(err, ValueError)


def test_unknown_instance_type_without_close_match_lists_families() -> None:
    with pytest.raises(UnknownInstanceTypeError, match=r"known families: .*ml\.g5\.\*") as info:
        instance_price("tpu-v5e")
    assert info.value.suggestions == []


def test_same_family_cheapest_first() -> None:
    rows = same_family("ml.g5.12xlarge")
    assert {r.instance_type for r in rows} == {f"ml.g5.{s}" for s in SIZES}
    prices = [r.usd_per_hour for r in rows]
    assert prices == sorted(prices)
    options = family_options("ml.g5.12xlarge")
    assert options[0].instance_type == "ml.g5.xlarge"
    big = next(o for o in options if o.instance_type == "ml.g5.12xlarge")
    assert (big.gpus_per_instance, big.gpu_memory_gib) == (4, 96.0)
    assert same_family("nope") == [] and family_options("nope") == ()


def test_resolve_from_the_table() -> None:
    r = resolve_pricing(PricingSettings(instance_type="ml.g5.12xlarge", instances=2))
    assert r.instance_type == "ml.g5.12xlarge"
    assert r.usd_per_instance_hour == pytest.approx(7.09)
    assert r.usd_per_instance_hour_source == "table"
    assert (r.gpus_per_instance, r.gpus_per_instance_source) == (4, "table")
    assert r.cost_per_hour_usd == pytest.approx(14.18)  # 7.09 × 2
    assert r.usd_per_gpu_hour == pytest.approx(1.7725)  # 7.09 / 4
    assert r.gpu_model == "NVIDIA A10G" and r.gpu_memory_gib_per_gpu == 24.0
    assert not r.is_token_priced
    text = "\n".join(r.describe())
    assert "from the price table" in text and SAGEMAKER_SOURCE in text
    assert PRICE_TABLE_AS_OF.isoformat() in text


def test_resolve_config_beats_the_table() -> None:
    r = resolve_pricing(
        PricingSettings(instance_type="ml.g5.12xlarge", usd_per_hour=5.0, gpus_per_instance=2)
    )
    assert (r.usd_per_instance_hour, r.usd_per_instance_hour_source) == (5.0, "config")
    assert (r.gpus_per_instance, r.gpus_per_instance_source) == (2, "config")
    assert r.table_entry is not None and r.table_entry.usd_per_hour == pytest.approx(7.09)
    assert any("overrides the table's 7.09" in n for n in r.notes)
    assert "from the config (pricing.usd_per_hour)" in "\n".join(r.describe())


def test_resolve_unknown_type_priced_by_config() -> None:
    r = resolve_pricing(PricingSettings(instance_type="dgx-a100-onprem", usd_per_hour=20.0))
    assert r.usd_per_instance_hour == 20.0
    assert (r.gpus_per_instance, r.gpus_per_instance_source) == (1, "default")
    assert r.table_entry is None and r.instance_type == "dgx-a100-onprem"
    assert any("not in the price table" in n for n in r.notes)


def test_resolve_unknown_type_without_price_raises() -> None:
    with pytest.raises(UnknownInstanceTypeError, match=r"ml\.g6\.xlarge"):
        resolve_pricing(PricingSettings.model_construct(instance_type="ml.g6.xlarg"))


def test_settings_refuse_an_unknown_type_without_a_price(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("upstreams:\n  - url: http://a:1\n    pricing:\n      instance_type: bogus.x\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    text = str(info.value)
    assert text.startswith(f"{cfg}:4: upstreams[0].pricing.instance_type: unknown instance type")
    assert "got 'bogus.x'" in text and "usd_per_hour" in text
    cfg.write_text("upstreams:\n  - pricing: {instance_type: ml.g6.xlarg}\n")
    with pytest.raises(ConfigError, match=r"closest: ml\.g6\.xlarge"):
        load_settings(cfg, env={})
    cfg.write_text("upstreams:\n  - pricing: {instance_type: onprem-box, usd_per_hour: 3}\n")
    assert load_settings(cfg, env={}).upstreams[0].pricing is not None


def test_resolve_token_priced_and_empty() -> None:
    r = resolve_pricing(
        PricingSettings(
            usd_per_1m_input_tokens=3.0, usd_per_1m_output_tokens=15.0, monthly_budget_usd=100.0
        )
    )
    assert r.usd_per_instance_hour is None and r.usd_per_instance_hour_source == "unset"
    assert r.cost_per_hour_usd is None and r.usd_per_gpu_hour is None
    assert r.is_token_priced
    assert r.monthly_budget_usd == 100.0
    text = "\n".join(r.describe())
    assert "3 USD per 1M" in text and "15 USD per 1M" in text and "budget: 100" in text
    empty = resolve_pricing(PricingSettings())
    assert empty.usd_per_instance_hour is None
    assert (empty.gpus_per_instance, empty.gpus_per_instance_source) == (1, "default")


def test_table_feeds_the_right_size_advice() -> None:
    from infersight.core.advice import Evidence, UpstreamEvidence, advise

    # ml.g5.12xlarge (4 × 24 GiB, 7.09 USD/h) at p95 10 % and peak memory 15 % (14.4 GiB,
    # 17.28 GiB with headroom) → ml.g5.xlarge (1.408 USD/h).
    # saving = (7.09 - 1.408) × 730 × 2 = 5.682 × 1460 = 8295.72 USD/month
    week = 7 * 86400.0
    e = UpstreamEvidence(
        upstream="llm",
        gpu_utilization_p95=Evidence("gpu_util:p95", week, 0.10, "p95 GPU utilisation"),
        gpu_memory_used_ratio_max=Evidence("gpu_mem:max", week, 0.15, "max GPU memory used"),
        replicas=2,
        instance_type="ml.g5.12xlarge",
        family=family_options("ml.g5.12xlarge"),
    )
    [a] = advise(e)
    assert a.title == "Move llm from ml.g5.12xlarge to ml.g5.xlarge"
    assert a.projected_saving_usd_per_month == pytest.approx(8295.72)
