"""dom_engine: cost-optimal order routing for distributed order management.

Layers (imports point downwards only): service/cli -> engine -> inventory, optimize -> network -> domain.
"""

__version__ = "0.1.0"
