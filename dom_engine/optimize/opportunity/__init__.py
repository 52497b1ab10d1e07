"""Opportunity-cost prices of stock: the fluid LP of a forecast (fluid.py) on HiGHS (master.py)."""

from .fluid import FluidModel, FluidParams, FluidResult, solve_fluid

__all__ = ["FluidModel", "FluidParams", "FluidResult", "solve_fluid"]
