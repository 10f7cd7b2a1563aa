"""Demo traffic for `infersight demo`: a seeded Poisson load of chat completions."""

from infersight.demo.prompts import DEMO_PROMPTS
from infersight.demo.traffic import SCENARIOS, TrafficGenerator, TrafficStats

__all__ = ["DEMO_PROMPTS", "SCENARIOS", "TrafficGenerator", "TrafficStats"]
