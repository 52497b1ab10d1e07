"""Pure domain types with validation at construction. No grpc, redis or ortools imports here."""

from .errors import ConfigError, DomainError, NotFoundError, PreconditionError, ValidationError
from .network import Network, Node, NodeKind
from .order import Destination, Line, Order, OrderOptions, PenaltyOverride
from .plan import (
    Alternative,
    BackorderedLine,
    CostBreakdown,
    Explanation,
    Plan,
    PlanStatus,
    Shipment,
    ShipmentLine,
)
from .policy import Mode, Penalties, PolicyProfile, Weights
from .rates import CarrierService, RateBand, RateCard, us_network_rate_card
from .validation import Limits, check_skus, validate_order

__all__ = [
    "Alternative", "BackorderedLine", "CarrierService", "ConfigError", "CostBreakdown", "Destination",
    "DomainError", "Explanation", "Limits", "Line", "Mode", "Network", "Node", "NodeKind", "NotFoundError",
    "Order", "OrderOptions", "Penalties", "PenaltyOverride", "Plan", "PlanStatus", "PolicyProfile",
    "PreconditionError",
    "RateBand", "RateCard", "Shipment", "ShipmentLine", "ValidationError", "Weights", "us_network_rate_card",
    "check_skus", "validate_order",
]
