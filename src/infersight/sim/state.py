"""Live counters of the simulated upstream and their immutable snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimState:
    """A snapshot of the simulator's counters (monotonic `_total`s and current gauges)."""

    running: int  # generations holding a slot now
    waiting: int  # requests queued for a slot now
    requests_total: int  # generation requests received (valid or not)
    completed_total: int  # responses finished normally (stream ended with [DONE])
    generation_tokens_total: int  # completion tokens sent
    prompt_tokens_total: int  # prompt tokens (word estimate) of admitted requests
    bad_requests_total: int  # answered 400
    injected_errors_total: int  # answered error_status by the error_rate fault
    rejected_total: int  # answered 503 because the queue was full
    stalls_total: int  # streams that took the stall_ms pause
    disconnects_total: int  # connections closed mid-response by the disconnect fault
    client_disconnects_total: int  # generations abandoned because the client went away


class Counters:
    """The mutable side, touched only from the server's event loop."""

    __slots__ = (
        "bad_requests_total",
        "client_disconnects_total",
        "completed_total",
        "disconnects_total",
        "generation_tokens_total",
        "injected_errors_total",
        "prompt_tokens_total",
        "rejected_total",
        "requests_total",
        "running",
        "stalls_total",
        "waiting",
    )

    def __init__(self) -> None:
        self.running = 0
        self.waiting = 0
        self.requests_total = 0
        self.completed_total = 0
        self.generation_tokens_total = 0
        self.prompt_tokens_total = 0
        self.bad_requests_total = 0
        self.injected_errors_total = 0
        self.rejected_total = 0
        self.stalls_total = 0
        self.disconnects_total = 0
        self.client_disconnects_total = 0

    def snapshot(self) -> SimState:
        return SimState(
            running=self.running,
            waiting=self.waiting,
            requests_total=self.requests_total,
            completed_total=self.completed_total,
            generation_tokens_total=self.generation_tokens_total,
            prompt_tokens_total=self.prompt_tokens_total,
            bad_requests_total=self.bad_requests_total,
            injected_errors_total=self.injected_errors_total,
            rejected_total=self.rejected_total,
            stalls_total=self.stalls_total,
            disconnects_total=self.disconnects_total,
            client_disconnects_total=self.client_disconnects_total,
        )
