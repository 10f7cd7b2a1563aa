"""The `quality:` settings models: defaults, schedules, validation messages, descriptions; the
quality rule pack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from infersight.alerting.settings import AlertingSettings
from infersight.config.model_walk import is_list, is_model, item_type, unwrap_annotation
from infersight.quality.rule_pack import QUALITY_RULES, QUALITY_RUNBOOKS, quality_rules
from infersight.quality.settings import QualitySettings, SweepSettings


def models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield model
    for field in model.model_fields.values():
        ann = unwrap_annotation(field.annotation)
        ann = unwrap_annotation(item_type(ann)) if is_list(ann) else ann
        if is_model(ann):
            yield from models(ann)


def test_every_field_has_a_default_and_a_description() -> None:
    names = {m.__name__ for m in models(QualitySettings)}
    assert {"SweepSettings", "SamplerSettings", "JudgeSettings"} <= names
    for model in models(QualitySettings):
        for name, field in model.model_fields.items():
            assert (field.description or "").strip(), f"{model.__name__}.{name}"
    assert QualitySettings() == QualitySettings.model_validate({})


def test_defaults() -> None:
    q = QualitySettings()
    assert q.sweeps == [] and not q.sampler.enabled and not q.judge.configured
    s = SweepSettings(name="nightly")
    assert s.dataset == "default" and s.endpoint == "" and s.every_s == 3600.0
    assert s.schedule() is None and s.scorers[0] == "accuracy"
    assert q.sampler.scorers == ["relevance", "toxicity", "refusal", "answer_length"]


def test_schedules() -> None:
    assert SweepSettings(name="a", interval_s=60).every_s == 60
    cron = SweepSettings(name="b", cron=" 0 2 * * * ")
    assert cron.cron == "0 2 * * *" and cron.every_s is None and cron.schedule() is not None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": ""}, "every sweep needs a name"),
        ({"name": "a b"}, "'a b' is not a valid sweep name"),
        ({"name": "a", "cron": "61 * * * *"}, "minute field: 61 is out of range 0-59"),
        ({"name": "a", "cron": "* * *"}, "has 3 fields; a cron schedule has 5"),
        ({"name": "a", "cron": "0 * * * *", "interval_s": 60}, "sets both interval_s and cron"),
        ({"name": "a", "scorers": ["accuracy", "bleu"]}, "unknown scorer(s) 'bleu'"),
        ({"name": "a", "endpoint": "localhost:8000"}, "must start with http:// or https://"),
        ({"name": "a", "concurrency": 0}, "greater than or equal to 1"),
    ],
)
def test_sweep_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        SweepSettings.model_validate(values)
    assert message in str(info.value)


def test_section_errors() -> None:
    with pytest.raises(ValidationError, match="the sweep name 'a' is used more than once"):
        QualitySettings.model_validate({"sweeps": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValidationError, match="use_judge is true but no judge is configured"):
        QualitySettings.model_validate({"sweeps": [{"name": "a", "use_judge": True}]})
    with pytest.raises(ValidationError, match=r"judge\.model is empty"):
        QualitySettings.model_validate({"judge": {"base_url": "http://127.0.0.1:1/v1"}})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        QualitySettings.model_validate({"sampler": {"fraction": 1.5}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        QualitySettings.model_validate({"sweeps": [{"name": "a", "shedule": "x"}]})


def test_quality_rules_are_valid_alert_rules_with_runbooks() -> None:
    names = [r.name for r in QUALITY_RULES]
    assert names == ["quality_accuracy_drop", "quality_toxic_answer", "quality_hallucination_high"]
    assert set(QUALITY_RUNBOOKS) == set(names)
    alerting = AlertingSettings(rules=quality_rules())  # accepted by the alerting section
    assert [r.selector_labels() for r in alerting.rules] == [{"tag": "all"}] * 3
    assert [(r.metric.split("{")[0], r.threshold) for r in QUALITY_RULES] == [
        ("quality_accuracy_regressed", 0.5),
        ("quality_toxicity_rate", 0.0),
        ("quality_hallucination_rate", 0.2),
    ]
    assert all(r.treat_missing_data == "ignore" for r in QUALITY_RULES)
