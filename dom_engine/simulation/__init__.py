"""What-if simulation for planners: replay an order stream under scenarios (changes to the base
network, stock, rates, policies and demand) on live simulated stock, and compare KPIs with the base
on paired replications. Uses app/ (the same Engine RouteOrder uses) and optimize/, never service/."""

from .scenarios import Scenario, ScenarioFile, load_scenarios, parse_scenarios
from .simulate import Delta, SimulationResult, simulate

__all__ = ["Delta", "Scenario", "ScenarioFile", "SimulationResult", "load_scenarios", "parse_scenarios",
           "simulate"]
