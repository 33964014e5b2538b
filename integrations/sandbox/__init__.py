"""A local stand-in for SalesAPI, BillAPI and CustomAPI, over real HTTP."""

from integrations.sandbox.scenario import (
    Scenario,
    ScenarioError,
    load_scenario_file,
    parse_scenario,
)
from integrations.sandbox.server import SandboxServer

__all__ = [
    "SandboxServer",
    "Scenario",
    "ScenarioError",
    "load_scenario_file",
    "parse_scenario",
]
