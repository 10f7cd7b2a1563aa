"""`infersight sim`: a deterministic OpenAI-compatible fake LLM upstream (tests, benchmarks)."""

from infersight.sim.app import SimApp, SimulatedDisconnect
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import SimServer, SimThread, create_sim_app, run_sim_in_thread
from infersight.sim.state import SimState

__all__ = [
    "SimApp",
    "SimKnobs",
    "SimServer",
    "SimState",
    "SimThread",
    "SimulatedDisconnect",
    "create_sim_app",
    "run_sim_in_thread",
]
