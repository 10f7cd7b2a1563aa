"""Which collectors run, from the settings: one explicit dict of factories, no import magic.

    nvml     NvmlCollector                     when collectors.nvml.enabled
    host     HostCollector(store directory)    when collectors.host.enabled
    engine   one EngineCollector per upstream with an engine_metrics_url,
             when collectors.engine.enabled

Each collector is wrapped in a CollectorDaemon with its section's interval_s and timeout_s.
"""

from __future__ import annotations

from collections.abc import Callable

from infersight.collectors.base import Collector, CollectorDaemon, SampleSink
from infersight.collectors.engine_metrics import EngineCollector
from infersight.collectors.host import HostCollector
from infersight.collectors.nvml import NvmlCollector
from infersight.core.clock import Clock
from infersight.settings import CollectorSettings, Settings

# factory(settings, store_path) -> collectors of that kind (possibly none)
CollectorFactory = Callable[[Settings, str], list[Collector]]


def _nvml(settings: Settings, store_path: str) -> list[Collector]:
    return [NvmlCollector()]


def _host(settings: Settings, store_path: str) -> list[Collector]:
    return [HostCollector(store_path)]


def _engines(settings: Settings, store_path: str) -> list[Collector]:
    timeout_s = settings.collectors.engine.timeout_s
    return [
        EngineCollector(u.name, u.engine_metrics_url, timeout_s=timeout_s)
        for u in settings.upstreams
        if u.engine_metrics_url
    ]


COLLECTOR_FACTORIES: dict[str, CollectorFactory] = {
    "nvml": _nvml,
    "host": _host,
    "engine": _engines,
}


def section(settings: Settings, kind: str) -> CollectorSettings:
    sections: dict[str, CollectorSettings] = {
        "nvml": settings.collectors.nvml,
        "host": settings.collectors.host,
        "engine": settings.collectors.engine,
    }
    return sections[kind]


def build_collectors(
    settings: Settings, *, store_path: str, clock: Clock, sink: SampleSink
) -> list[CollectorDaemon]:
    """Daemons for every enabled collector; call `start()` on each inside the event loop."""
    daemons: list[CollectorDaemon] = []
    for kind, factory in COLLECTOR_FACTORIES.items():
        conf = section(settings, kind)
        if not conf.enabled:
            continue
        for collector in factory(settings, store_path):
            daemons.append(
                CollectorDaemon(
                    collector,
                    sink,
                    clock=clock,
                    interval_s=conf.interval_s,
                    timeout_s=conf.timeout_s,
                )
            )
    return daemons
