"""Which upstream serves a model: an explicit table built from the config."""

from __future__ import annotations

from dataclasses import dataclass

from infersight.settings import UpstreamSettings
from infersight.upstreams.http1 import Origin
from infersight.upstreams.pool import ConnectionPool


@dataclass(slots=True)
class Upstream:
    name: str
    url: str
    pool: ConnectionPool
    models: tuple[str, ...]


class UpstreamRouter:
    """Routes by model name: an upstream that lists the model wins; otherwise the first
    upstream with no model list (the default route) takes it."""

    def __init__(self, upstreams: list[UpstreamSettings], *, connect_timeout_s: float) -> None:
        if not upstreams:
            raise ValueError("at least one upstream is required")
        self.upstreams = [
            Upstream(
                name=u.name,
                url=u.url,
                pool=ConnectionPool(Origin.parse(u.url), connect_timeout_s=connect_timeout_s),
                models=tuple(u.models),
            )
            for u in upstreams
        ]
        self._by_model = {m: up for up in reversed(self.upstreams) for m in up.models}
        self._default = next((up for up in self.upstreams if not up.models), None)

    def pick(self, model: str) -> Upstream | None:
        return self._by_model.get(model, self._default)

    def known_models(self) -> list[str]:
        return sorted(self._by_model)

    def close(self) -> None:
        for upstream in self.upstreams:
            upstream.pool.close()
