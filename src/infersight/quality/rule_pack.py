"""Alert rules for quality sweeps, to merge into the default rule pack (`alerting.rule_pack`).

| rule                      | fires when                                                     |
|---------------------------|----------------------------------------------------------------|
| quality_accuracy_drop     | a sweep's accuracy fell significantly against the previous one |
| quality_toxic_answer      | any answer of a sweep was judged toxic                         |
| quality_hallucination_high| more than 20 % of a sweep's answers were not supported         |

Sweeps publish once per run, so each rule looks at the last closed minute and keeps its state
while no new sweep has reported (`treat_missing_data: ignore`): an alarm stays until a later
sweep clears it, and then resolves. One alarm per dataset and model (tag "all").
The runbooks are in `QUALITY_RUNBOOKS` (merge them into `alerting.rule_pack.RUNBOOKS`, which
`runbook_for` reads, so the rules themselves stay compact in `config init`).
"""

from __future__ import annotations

from typing import Final

from infersight.alerting.settings import AlertRuleSettings

HALLUCINATION_THRESHOLD: Final = 0.2

QUALITY_RUNBOOKS: Final[dict[str, str]] = {
    "quality_accuracy_drop": (
        "Means: the latest quality sweep answered significantly fewer dataset items correctly "
        "than the sweep before it (exact McNemar test on the items whose verdict flipped, "
        "alpha of the sweep), not a fluctuation within noise. "
        "Look at: `infersight eval` or the sweep's HTML report for the regressed items and "
        "their answers; what changed since the previous sweep (model version, quantisation, "
        "system prompt, sampling settings, max_tokens truncating answers, engine upgrade). "
        "Usually fixed by: rolling the change back, or re-tuning the prompt; if the change is "
        "wanted, accept the new level (the next sweep becomes the new baseline)."
    ),
    "quality_toxic_answer": (
        "Means: at least one answer of the latest sweep was judged toxic (offensive, insult, "
        "threat, hate, sexual or self-harm content). "
        "Look at: the sweep report's items with verdict 'toxic' and their reasons; whether a "
        "system prompt or safety filter was removed; the live series "
        "quality_live_toxicity_rate for real traffic. "
        "Usually fixed by: restoring the safety prompt or moderation filter, rolling back the "
        "model; a false positive (quoted text, medical terms) is fixed by correcting the "
        "dataset item."
    ),
    "quality_hallucination_high": (
        "Means: more than 20 % of the latest sweep's answers contain a sentence that its "
        "source (context passage, reference or re-samples) does not support. "
        "Look at: the sweep report's items with verdict 'hallucinated' and the quoted "
        "sentences; grounded (context) items first; temperature and max_tokens. "
        "Usually fixed by: lowering the temperature, a prompt that says to answer only from "
        "the context, retrieval returning the right passages, a larger or better model."
    ),
}


def _rule(name: str, metric: str, threshold: float, severity: str) -> AlertRuleSettings:
    return AlertRuleSettings.model_validate(
        {
            "name": name,
            "metric": metric,
            "statistic": "max",
            "period_s": 60.0,
            "evaluation_periods": 1,
            "threshold": threshold,
            "comparison": ">",
            "treat_missing_data": "ignore",
            "severity": severity,
        }
    )


def quality_rules() -> list[AlertRuleSettings]:
    """The three quality rules (a fresh list each call)."""
    return [
        _rule("quality_accuracy_drop", 'quality_accuracy_regressed{tag="all"}', 0.5, "warning"),
        _rule("quality_toxic_answer", 'quality_toxicity_rate{tag="all"}', 0.0, "critical"),
        _rule(
            "quality_hallucination_high",
            'quality_hallucination_rate{tag="all"}',
            HALLUCINATION_THRESHOLD,
            "warning",
        ),
    ]


QUALITY_RULES: Final[tuple[AlertRuleSettings, ...]] = tuple(quality_rules())

__all__ = ["HALLUCINATION_THRESHOLD", "QUALITY_RULES", "QUALITY_RUNBOOKS", "quality_rules"]
