"""Prices: the instance price table and the resolution of an upstream's pricing settings.

:func:`resolve_pricing` combines ``UpstreamSettings.pricing`` with the table (see
:mod:`infersight.pricing.table`, whose prices are dated and must be checked against the
provider's page) and records where each number came from, so the dashboard can say
"1.408 USD/h from the price table (Amazon SageMaker AI pricing, as of 2025-01-01)".

Precedence: ``usd_per_hour`` in the config beats the table; GPUs per instance come from
``gpus_per_instance`` in the config, else the table, else 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infersight.pricing.table import (
    EC2_SOURCE,
    PRICE_TABLE,
    PRICE_TABLE_AS_OF,
    REGION,
    SAGEMAKER_SOURCE,
    InstancePrice,
    UnknownInstanceTypeError,
    family_options,
    instance_price,
    instance_types,
    same_family,
)
from infersight.settings import PricingSettings

__all__ = [
    "EC2_SOURCE",
    "PRICE_TABLE",
    "PRICE_TABLE_AS_OF",
    "REGION",
    "SAGEMAKER_SOURCE",
    "InstancePrice",
    "PriceSource",
    "ResolvedPrice",
    "UnknownInstanceTypeError",
    "family_options",
    "instance_price",
    "instance_types",
    "resolve_pricing",
    "same_family",
]

PriceSource = Literal["config", "table", "default", "unset"]
"""Where a number came from: the config, the price table, a built-in default, or nowhere."""


@dataclass(frozen=True)
class ResolvedPrice:
    """An upstream's effective prices, each with its source.

    ``notes`` are human-readable lines for ``config check`` and the dashboard (e.g. an
    instance type missing from the table while ``usd_per_hour`` prices it).
    """

    instance_type: str | None
    usd_per_instance_hour: float | None
    usd_per_instance_hour_source: PriceSource
    instances: int
    gpus_per_instance: int
    gpus_per_instance_source: PriceSource
    gpu_model: str | None
    gpu_memory_gib_per_gpu: float | None
    usd_per_1m_input_tokens: float | None
    usd_per_1m_output_tokens: float | None
    monthly_budget_usd: float | None
    table_entry: InstancePrice | None
    notes: tuple[str, ...] = ()

    @property
    def cost_per_hour_usd(self) -> float | None:
        """Fleet cost per hour: USD per instance-hour × instances; None when not hourly-priced."""
        if self.usd_per_instance_hour is None:
            return None
        return self.usd_per_instance_hour * self.instances

    @property
    def usd_per_gpu_hour(self) -> float | None:
        if self.usd_per_instance_hour is None:
            return None
        return self.usd_per_instance_hour / self.gpus_per_instance

    @property
    def is_token_priced(self) -> bool:
        return self.usd_per_1m_input_tokens is not None or self.usd_per_1m_output_tokens is not None

    def describe(self) -> list[str]:
        """One line per number saying where it came from."""
        lines: list[str] = []
        row = self.table_entry
        if self.usd_per_instance_hour is not None:
            if self.usd_per_instance_hour_source == "config":
                origin = "from the config (pricing.usd_per_hour)"
            elif row is not None:
                origin = (
                    f"from the price table ({row.source}, {row.region}, "
                    f"as of {row.as_of.isoformat()})"
                )
            else:  # pragma: no cover - a table source always has a row
                origin = "from the price table"
            what = self.instance_type or "one instance"
            lines.append(f"{what}: {self.usd_per_instance_hour:g} USD/h {origin}")
            lines.append(
                f"instances: {self.instances}; fleet cost {self.cost_per_hour_usd:g} USD/h"
            )
        gpu_origin = {
            "config": "from the config (pricing.gpus_per_instance)",
            "table": "from the price table",
            "default": "default (not in the config or the table)",
            "unset": "unknown",
        }[self.gpus_per_instance_source]
        lines.append(f"GPUs per instance: {self.gpus_per_instance} {gpu_origin}")
        if self.usd_per_1m_input_tokens is not None:
            lines.append(
                f"input tokens: {self.usd_per_1m_input_tokens:g} USD per 1M from the config"
            )
        if self.usd_per_1m_output_tokens is not None:
            lines.append(
                f"output tokens: {self.usd_per_1m_output_tokens:g} USD per 1M from the config"
            )
        if self.monthly_budget_usd is not None:
            lines.append(f"monthly budget: {self.monthly_budget_usd:g} USD from the config")
        lines.extend(self.notes)
        return lines


def resolve_pricing(pricing: PricingSettings) -> ResolvedPrice:
    """Combine one upstream's pricing settings with the price table.

    - USD per instance-hour: ``pricing.usd_per_hour`` if set, else the table row of
      ``pricing.instance_type``, else unset (token-priced or free).
    - GPUs per instance: ``pricing.gpus_per_instance``, else the table row, else 1.

    Raises :class:`UnknownInstanceTypeError` (with close matches) when ``instance_type`` is not
    in the table and ``usd_per_hour`` does not price it; with ``usd_per_hour`` set, an unknown
    type is allowed (a custom or on-premises machine) and reported in ``notes``.
    """
    notes: list[str] = []
    row: InstancePrice | None = None
    instance_type = pricing.instance_type.strip() if pricing.instance_type else None
    if instance_type:
        try:
            row = instance_price(instance_type)
        except UnknownInstanceTypeError as err:
            if pricing.usd_per_hour is None:
                raise
            close = ", ".join(err.suggestions)
            matches = f"close matches: {close}" if close else "no close match in the table"
            notes.append(
                f"instance type {instance_type!r} is not in the price table ({matches}); "
                "priced by pricing.usd_per_hour"
            )
    usd_per_hour: float | None
    usd_source: PriceSource
    if pricing.usd_per_hour is not None:
        usd_per_hour, usd_source = pricing.usd_per_hour, "config"
        if row is not None and row.usd_per_hour != pricing.usd_per_hour:
            notes.append(
                f"pricing.usd_per_hour {pricing.usd_per_hour:g} overrides the table's "
                f"{row.usd_per_hour:g} USD/h for {row.instance_type} "
                f"(as of {row.as_of.isoformat()})"
            )
    elif row is not None:
        usd_per_hour, usd_source = row.usd_per_hour, "table"
    else:
        usd_per_hour, usd_source = None, "unset"
    gpus: int
    gpu_source: PriceSource
    if pricing.gpus_per_instance is not None:
        gpus, gpu_source = pricing.gpus_per_instance, "config"
    elif row is not None:
        gpus, gpu_source = row.gpus_per_instance, "table"
    else:
        gpus, gpu_source = 1, "default"
    return ResolvedPrice(
        instance_type=row.instance_type if row is not None else instance_type,
        usd_per_instance_hour=usd_per_hour,
        usd_per_instance_hour_source=usd_source,
        instances=pricing.instances,
        gpus_per_instance=gpus,
        gpus_per_instance_source=gpu_source,
        gpu_model=row.gpu_model if row is not None else None,
        gpu_memory_gib_per_gpu=row.gpu_memory_gib_per_gpu if row is not None else None,
        usd_per_1m_input_tokens=pricing.usd_per_1m_input_tokens,
        usd_per_1m_output_tokens=pricing.usd_per_1m_output_tokens,
        monthly_budget_usd=pricing.monthly_budget_usd,
        table_entry=row,
        notes=tuple(notes),
    )
