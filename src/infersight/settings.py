"""One pydantic model of the whole config: a YAML file plus INFERSIGHT_* environment overrides.

Precedence, lowest to highest: field defaults < YAML file < ``INFERSIGHT_*`` environment
variables < command-line flags (:func:`apply_cli_overrides`). Every failure is a
:class:`ConfigError` listing each problem with where it is (``file:line`` or the environment
variable), the dotted path of the setting, the bad value and how to fix it.

Every field carries a one-line ``description``: ``infersight config init`` writes it as the
comment above the key, and a unit test fails when a field has none.

This module holds the models; the machinery lives in :mod:`infersight.config` and its public
API is re-exported here, so ``from infersight.settings import load_settings`` is the way in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from infersight.alerting.settings import AlertingSettings, check_windows
from infersight.config.errors import (
    NO_VALUE,
    ConfigError,
    ConfigProblem,
    SettingValueError,
    format_value,
    render_path,
)
from infersight.config.loading import (
    CONFIG_PATH_ENV_VAR,
    DEFAULT_CONFIG_FILENAME,
    ENV_PREFIX,
    ENV_SHORTCUTS,
    NON_SETTING_ENV_VARS,
    apply_cli_overrides,
    apply_overrides,
    dump_settings,
    env_override_names,
    find_config_file,
    load_settings,
    place_problems,
    settings_from_mapping,
)
from infersight.config.model_walk import (
    constraint_text,
    is_dict,
    is_list,
    is_model,
    item_type,
    unwrap_annotation,
)
from infersight.config.validators import check_http_url
from infersight.config.yaml_parsing import parse_yaml
from infersight.quality.drift_settings import DriftSettings
from infersight.quality.settings import QualitySettings

__all__ = [
    "CONFIG_PATH_ENV_VAR",
    "DEFAULT_CONFIG_FILENAME",
    "ENV_PREFIX",
    "ENV_SHORTCUTS",
    "NON_SETTING_ENV_VARS",
    "NO_VALUE",
    "ConfigError",
    "ConfigProblem",
    "DemoSettings",
    "GatewaySettings",
    "SettingValueError",
    "Settings",
    "StoreSettings",
    "UpstreamSettings",
    "WriterSettings",
    "apply_cli_overrides",
    "apply_overrides",
    "constraint_text",
    "dump_settings",
    "env_override_names",
    "find_config_file",
    "format_value",
    "is_dict",
    "is_list",
    "is_model",
    "item_type",
    "load_settings",
    "parse_yaml",
    "place_problems",
    "render_path",
    "settings_from_mapping",
    "unwrap_annotation",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GatewaySettings(_Section):
    """The OpenAI-compatible proxy that clients send their requests to."""

    host: str = Field(
        default="127.0.0.1",
        description="Interface to listen on; 0.0.0.0 listens on all interfaces.",
    )
    port: int = Field(
        default=8400, ge=0, le=65535, description="TCP port to listen on; 0 picks a free one."
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body accepted, in bytes."
    )
    client_label_header: str = Field(
        default="x-infersight-client",
        description="Header that names the client; when absent the label is a hash of the API key.",
    )
    capture_text: bool = Field(
        default=False, description="Store prompt and response text with each record (off: privacy)."
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Longest wait for a client's request head, then its body, in seconds (a head that "
            "does not arrive: connection closed; a body: 408)."
        ),
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait to connect to the upstream, in seconds."
    )
    first_byte_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait for the upstream's response headers / first byte, in seconds.",
    )
    read_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest silence between two reads of a streaming body, in seconds.",
    )
    shutdown_grace_s: int = Field(
        default=10,
        ge=0,
        description=(
            "On stop, how long requests in flight may still finish, in seconds; the rest are "
            "cut and recorded as gateway_error."
        ),
    )
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Token for the web dashboard and its API; required when host is not loopback.",
    )


class PricingSettings(_Section):
    """The price of one upstream: either instances by the hour, or a hosted API by the token."""

    instance_type: str | None = Field(
        default=None,
        description="Instance type in the price table (e.g. ml.g5.xlarge); sets the hourly price.",
    )
    usd_per_hour: float | None = Field(
        default=None, gt=0, description="Price of one instance per hour, in USD (beats the table)."
    )
    instances: int = Field(default=1, gt=0, description="Instances (replicas) behind the upstream.")
    gpus_per_instance: int | None = Field(
        default=None, gt=0, description="GPUs per instance (default: from the price table, else 1)."
    )
    usd_per_1m_input_tokens: float | None = Field(
        default=None, ge=0, description="Hosted API: USD per 1M prompt tokens."
    )
    usd_per_1m_output_tokens: float | None = Field(
        default=None, ge=0, description="Hosted API: USD per 1M completion tokens."
    )
    monthly_budget_usd: float | None = Field(
        default=None, gt=0, description="Monthly budget for this upstream, in USD."
    )

    @model_validator(mode="after")
    def _known_instance_type(self) -> PricingSettings:
        """An instance type must be in the price table unless usd_per_hour prices it."""
        if not self.instance_type or not self.instance_type.strip() or self.usd_per_hour:
            return self
        # imported here: infersight.pricing imports this module
        from infersight.pricing.table import (
            PRICE_TABLE,
            PRICE_TABLE_AS_OF,
            UnknownInstanceTypeError,
            instance_price,
        )

        try:
            instance_price(self.instance_type)
        except UnknownInstanceTypeError as err:
            if err.suggestions:
                known = "closest: " + ", ".join(err.suggestions)
            else:
                families = sorted({row.family for row in PRICE_TABLE})
                known = "known families: " + ", ".join(f"{f}.*" for f in families)
            raise SettingValueError(
                f"unknown instance type (price table as of {PRICE_TABLE_AS_OF.isoformat()})",
                hint=f"{known}; or set usd_per_hour (and gpus_per_instance) to price it yourself",
                at=("instance_type",),
            ) from None
        return self


class UpstreamSettings(_Section):
    """One LLM server behind the gateway."""

    name: str = Field(default="default", description="Name of this upstream in labels and logs.")
    url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the upstream server (http or https).",
    )
    kind: Literal["openai"] = Field(default="openai", description="API the upstream speaks.")
    models: list[str] = Field(
        default_factory=list,
        description="Models served by this upstream; empty means any model (the default route).",
    )
    pricing: PricingSettings | None = Field(
        default=None,
        description="What this upstream costs (instance-hours or token prices); none = no cost.",
    )
    engine_metrics_url: str | None = Field(
        default=None,
        description="The serving engine's Prometheus endpoint (e.g. http://host:8000/metrics).",
    )

    @field_validator("url", "engine_metrics_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = check_http_url(v, example="http://127.0.0.1:8000", port_example="http://host:8000")
        return v.rstrip("/")


class WriterSettings(_Section):
    """Batching of writes to the store."""

    batch_size: int = Field(
        default=500, gt=0, description="Most records written to the store at once."
    )
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Longest time a record waits before its batch is written, in seconds.",
    )
    queue_size: int = Field(
        default=100_000, gt=0, description="Records the in-memory write queue holds at most."
    )


class RetentionSettings(_Section):
    """How long each resolution of metric samples is kept."""

    raw_days: float = Field(default=2.0, gt=0, description="Raw samples, in days.")
    minute_days: float = Field(default=30.0, gt=0, description="1-minute rollups, in days.")
    hour_days: float = Field(default=400.0, gt=0, description="1-hour rollups, in days.")
    requests_days: float = Field(default=30.0, gt=0, description="Request records, in days.")


class StoreSettings(_Section):
    """Where records, metrics and evaluation results are kept."""

    backend: Literal["sqlite"] = Field(default="sqlite", description="Storage backend.")
    path: str = Field(
        default="infersight.db",
        description="SQLite database file, relative to the working directory.",
    )
    writer: WriterSettings = Field(
        default_factory=WriterSettings, description="Batching of writes to the store."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long metric samples are kept."
    )
    rollup_interval_s: float = Field(
        default=60.0, gt=0, description="How often rollups and retention run, in seconds."
    )


class CollectorSettings(_Section):
    """One background collector."""

    enabled: bool = Field(default=True, description="Run this collector.")
    interval_s: float = Field(default=5.0, gt=0, description="Seconds between two collections.")
    timeout_s: float = Field(default=3.0, gt=0, description="Longest wait for one collection.")


class CollectorsSettings(_Section):
    """Background collectors of GPU, serving-engine and host metrics."""

    nvml: CollectorSettings = Field(
        default_factory=CollectorSettings, description="GPUs through NVIDIA's NVML."
    )
    engine: CollectorSettings = Field(
        default_factory=CollectorSettings,
        description="Serving engines' /metrics (each upstream's engine_metrics_url).",
    )
    host: CollectorSettings = Field(
        default_factory=CollectorSettings, description="CPU, memory and disk of this host."
    )
    idle_gpu_utilization: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="GPU utilisation (0-1) under which accelerator time counts as idle spend.",
    )


class DemoSettings(_Section):
    """`infersight demo`: the embedded local model and its built-in traffic generator."""

    rate_per_s: float = Field(
        default=0.5,
        gt=0,
        description="Requests per second the demo's built-in traffic generator sends.",
    )
    concurrency: int = Field(
        default=1,
        gt=0,
        description="Most demo requests in flight at once (the local model serves one at a time).",
    )
    max_tokens: int = Field(default=48, gt=0, description="max_tokens of each demo request.")
    model_threads: int = Field(
        default=2, gt=0, description="CPU threads the embedded local model uses."
    )


class Settings(_Section):
    """The whole configuration."""

    gateway: GatewaySettings = Field(
        default_factory=GatewaySettings,
        description="The OpenAI-compatible proxy that clients send their requests to.",
    )
    upstreams: list[UpstreamSettings] = Field(
        default_factory=lambda: [UpstreamSettings()],
        min_length=1,
        description="LLM servers behind the gateway (at least one).",
    )
    store: StoreSettings = Field(
        default_factory=StoreSettings,
        description="Where records, metrics and evaluation results are kept.",
    )
    collectors: CollectorsSettings = Field(
        default_factory=CollectorsSettings,
        description="Background collectors of GPU, serving-engine and host metrics.",
    )
    demo: DemoSettings = Field(
        default_factory=DemoSettings, description="Settings of `infersight demo`."
    )
    alerting: AlertingSettings = Field(
        default_factory=AlertingSettings, description="Alert rules and where notifications go."
    )
    quality: QualitySettings = Field(
        default_factory=QualitySettings,
        description="Quality sweeps, live-traffic sampling and the optional LLM judge.",
    )
    drift: DriftSettings = Field(
        default_factory=DriftSettings,
        description="Drift of prompts and answers between a baseline and the current window.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Logging verbosity."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _unique_upstream_names(self) -> Settings:
        first: dict[str, int] = {}
        for i, upstream in enumerate(self.upstreams):
            if upstream.name in first:
                raise SettingValueError(
                    f"the upstream name {upstream.name!r} is already used by "
                    f"upstreams[{first[upstream.name]}]",
                    hint="give each upstream its own name; one without name: is 'default'",
                    show_value=False,
                    at=("upstreams", i, "name"),
                )
            first[upstream.name] = i
        return self

    @model_validator(mode="after")
    def _alert_windows(self) -> Settings:
        check_windows(self.alerting, self.store.retention)  # rules vs store.retention
        return self
