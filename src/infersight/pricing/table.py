"""A dated, editable table of on-demand GPU instance prices (AWS us-east-1).

HOW THESE NUMBERS WERE OBTAINED: they were written from the author's knowledge of the providers'
public pricing pages as they stood around :data:`PRICE_TABLE_AS_OF`; they were NOT read live
from the web. Prices change: check them against the page named in each row's ``source`` before
relying on them, and override any of them in the config with ``pricing.usd_per_hour``, which
always beats this table. Rows whose ``note`` says "estimate" were derived, not recalled. AWS
announced on-demand price cuts for P4 and P5 instances in 2025, so those rows are likely high.

To edit: change or add an :class:`InstancePrice` row below and bump ``as_of`` on the rows you
checked. Instance types are matched case-insensitively; ``family`` is everything before the last
dot (``ml.g5.xlarge`` → ``ml.g5``), and the right-size advice only moves within one family.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date

from infersight.core.advice import InstanceOption

PRICE_TABLE_AS_OF = date(2025, 1, 1)
"""When the prices below were known to be right (author's knowledge, not a live read)."""

REGION = "us-east-1"
SAGEMAKER_SOURCE = "Amazon SageMaker AI pricing: On-Demand, Real-Time Inference"
EC2_SOURCE = "Amazon EC2 On-Demand Pricing (Linux)"

_G6_SAGEMAKER_NOTE = "estimate: EC2 g6 price × 1.25 (the ml.g5 vs g5 markup); verify on the page"
_P_CUT_NOTE = "AWS announced P4/P5 on-demand price cuts in 2025; likely lower now"


@dataclass(frozen=True)
class InstancePrice:
    """One instance type's on-demand price and GPU shape."""

    instance_type: str
    gpu_model: str
    gpus_per_instance: int
    gpu_memory_gib_per_gpu: float
    usd_per_hour: float
    region: str
    source: str
    as_of: date
    note: str = ""

    @property
    def family(self) -> str:
        """Everything before the last dot: ``ml.g5.xlarge`` → ``ml.g5``."""
        return self.instance_type.rsplit(".", 1)[0]

    @property
    def gpu_memory_gib(self) -> float:
        """Total GPU memory of one instance: GPUs × GiB per GPU."""
        return self.gpus_per_instance * self.gpu_memory_gib_per_gpu

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_hour / self.gpus_per_instance

    def option(self) -> InstanceOption:
        """This row as the advice engine's :class:`InstanceOption`."""
        return InstanceOption(
            self.instance_type,
            self.gpus_per_instance,
            self.gpu_memory_gib_per_gpu,
            self.usd_per_hour,
        )


def _rows(
    prefix: str,
    gpu_model: str,
    gib_per_gpu: float,
    source: str,
    sizes: list[tuple[str, int, float]],
    note: str = "",
) -> list[InstancePrice]:
    return [
        InstancePrice(
            instance_type=f"{prefix}.{size}",
            gpu_model=gpu_model,
            gpus_per_instance=gpus,
            gpu_memory_gib_per_gpu=gib_per_gpu,
            usd_per_hour=usd,
            region=REGION,
            source=source,
            as_of=PRICE_TABLE_AS_OF,
            note=note,
        )
        for size, gpus, usd in sizes
    ]


# (size, GPUs per instance, USD per hour)
_ML_G5 = [
    ("xlarge", 1, 1.408),
    ("2xlarge", 1, 1.515),
    ("4xlarge", 1, 2.03),
    ("8xlarge", 1, 3.06),
    ("12xlarge", 4, 7.09),
    ("16xlarge", 1, 5.12),
    ("24xlarge", 4, 10.18),
    ("48xlarge", 8, 20.36),
]
_ML_G6 = [
    ("xlarge", 1, 1.006),
    ("2xlarge", 1, 1.222),
    ("4xlarge", 1, 1.654),
    ("8xlarge", 1, 2.518),
    ("12xlarge", 4, 5.752),
    ("16xlarge", 1, 4.246),
    ("24xlarge", 4, 8.344),
    ("48xlarge", 8, 16.688),
]
_EC2_G5 = [
    ("xlarge", 1, 1.006),
    ("2xlarge", 1, 1.212),
    ("4xlarge", 1, 1.624),
    ("8xlarge", 1, 2.448),
    ("12xlarge", 4, 5.672),
    ("16xlarge", 1, 4.096),
    ("24xlarge", 4, 8.144),
    ("48xlarge", 8, 16.288),
]
_EC2_G6 = [
    ("xlarge", 1, 0.8048),
    ("2xlarge", 1, 0.9776),
    ("4xlarge", 1, 1.3232),
    ("8xlarge", 1, 2.0144),
    ("12xlarge", 4, 4.6016),
    ("16xlarge", 1, 3.3968),
    ("24xlarge", 4, 6.6752),
    ("48xlarge", 8, 13.3504),
]

PRICE_TABLE: tuple[InstancePrice, ...] = (
    *_rows("ml.g5", "NVIDIA A10G", 24.0, SAGEMAKER_SOURCE, _ML_G5),
    *_rows("ml.g6", "NVIDIA L4", 24.0, SAGEMAKER_SOURCE, _ML_G6, _G6_SAGEMAKER_NOTE),
    *_rows(
        "ml.p4d", "NVIDIA A100 40GB", 40.0, SAGEMAKER_SOURCE, [("24xlarge", 8, 37.688)], _P_CUT_NOTE
    ),
    *_rows(
        "ml.p5", "NVIDIA H100 80GB", 80.0, SAGEMAKER_SOURCE, [("48xlarge", 8, 113.07)], _P_CUT_NOTE
    ),
    *_rows("g5", "NVIDIA A10G", 24.0, EC2_SOURCE, _EC2_G5),
    *_rows("g6", "NVIDIA L4", 24.0, EC2_SOURCE, _EC2_G6),
    *_rows("p4d", "NVIDIA A100 40GB", 40.0, EC2_SOURCE, [("24xlarge", 8, 32.7726)], _P_CUT_NOTE),
    *_rows("p5", "NVIDIA H100 80GB", 80.0, EC2_SOURCE, [("48xlarge", 8, 98.32)], _P_CUT_NOTE),
)

_BY_TYPE: dict[str, InstancePrice] = {row.instance_type.lower(): row for row in PRICE_TABLE}


class UnknownInstanceTypeError(ValueError):
    """An instance type that is not in the price table; ``suggestions`` are close matches."""

    def __init__(self, instance_type: str, suggestions: list[str]) -> None:
        self.instance_type = instance_type
        self.suggestions = suggestions
        if suggestions:
            hint = "did you mean " + ", ".join(suggestions) + "?"
        else:
            families = sorted({row.family for row in PRICE_TABLE})
            hint = "known families: " + ", ".join(f"{f}.*" for f in families) + "."
        super().__init__(
            f"unknown instance type {instance_type!r} (price table as of "
            f"{PRICE_TABLE_AS_OF.isoformat()}): {hint} Or set pricing.usd_per_hour (and "
            "pricing.gpus_per_instance) to price it yourself."
        )


def instance_types() -> list[str]:
    """Every instance type in the table, in table order."""
    return [row.instance_type for row in PRICE_TABLE]


def instance_price(instance_type: str) -> InstancePrice:
    """The table row for ``instance_type`` (case-insensitive, surrounding spaces ignored).

    Raises :class:`UnknownInstanceTypeError` naming up to 5 close matches.
    """
    key = instance_type.strip().lower()
    row = _BY_TYPE.get(key)
    if row is None:
        close = difflib.get_close_matches(key, list(_BY_TYPE), n=5, cutoff=0.6)
        raise UnknownInstanceTypeError(instance_type, [_BY_TYPE[c].instance_type for c in close])
    return row


def same_family(instance_type: str) -> list[InstancePrice]:
    """The rows of ``instance_type``'s family (itself included), cheapest first; [] if unknown."""
    key = instance_type.strip().lower()
    row = _BY_TYPE.get(key)
    if row is None:
        return []
    return sorted((r for r in PRICE_TABLE if r.family == row.family), key=lambda r: r.usd_per_hour)


def family_options(instance_type: str) -> tuple[InstanceOption, ...]:
    """:func:`same_family` as the advice engine's ``UpstreamEvidence.family``."""
    return tuple(row.option() for row in same_family(instance_type))
