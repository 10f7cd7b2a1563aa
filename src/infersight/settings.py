"""One pydantic model of the whole config: a YAML file plus INFERSIGHT_* environment overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewaySettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=0, le=65535)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    # Header that names the client; when absent the label is a hash of the API key.
    client_label_header: str = "x-infersight-client"
    # Store prompt and response text with each record (off by default: privacy).
    capture_text: bool = False
    connect_timeout_s: float = Field(5.0, gt=0)
    # Longest wait for the upstream's response headers / first byte.
    first_byte_timeout_s: float = Field(120.0, gt=0)
    # Longest silence between two reads of a streaming body.
    read_timeout_s: float = Field(120.0, gt=0)


class UpstreamSettings(_Section):
    name: str = "default"
    url: str = "http://127.0.0.1:8000"
    kind: Literal["openai"] = "openai"
    # Models served by this upstream; empty means "any model" (the default route).
    models: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {v!r}")
        return v.rstrip("/")


class WriterSettings(_Section):
    batch_size: int = Field(500, gt=0)
    flush_interval_s: float = Field(1.0, gt=0)
    queue_size: int = Field(100_000, gt=0)


class StoreSettings(_Section):
    backend: Literal["sqlite"] = "sqlite"
    path: str = "infersight.db"
    writer: WriterSettings = Field(default_factory=WriterSettings)


class DemoSettings(_Section):
    # Requests per second the demo's built-in traffic generator sends.
    rate_per_s: float = Field(0.5, gt=0)
    concurrency: int = Field(2, gt=0)
    max_tokens: int = Field(48, gt=0)
    model_threads: int = Field(2, gt=0)


class Settings(_Section):
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    upstreams: list[UpstreamSettings] = Field(
        default_factory=lambda: [UpstreamSettings()], min_length=1
    )
    store: StoreSettings = Field(default_factory=StoreSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
