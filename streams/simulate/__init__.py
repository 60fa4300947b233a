"""`contactmon simulate`: realistic, reproducible contract events for the configured municipalities.

- `profiles`: the figures (municipalities, volumes, handling shares), as data.
- `generator`: `simulate(start, end, …)` → CloudEvents dicts in event-time order; `write_jsonl`.
- `scenarios`: named streams with exactly known norm outcomes (`SCENARIOS`).
- `command`: the CLI subcommand (`add_arguments`, `run`).
"""

from __future__ import annotations

from streams.simulate.generator import Event, shuffle_arrival, simulate, write_jsonl
from streams.simulate.profiles import DEFAULT_MUNICIPALITIES, SimulationError
from streams.simulate.scenarios import SCENARIOS, Scenario

__all__ = [
    "DEFAULT_MUNICIPALITIES",
    "SCENARIOS",
    "Event",
    "Scenario",
    "SimulationError",
    "shuffle_arrival",
    "simulate",
    "write_jsonl",
]
