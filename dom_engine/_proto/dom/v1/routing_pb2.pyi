import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_STATUS_UNSPECIFIED: _ClassVar[PlanStatus]
    PLAN_STATUS_OPTIMAL: _ClassVar[PlanStatus]
    PLAN_STATUS_FEASIBLE: _ClassVar[PlanStatus]
    PLAN_STATUS_INFEASIBLE: _ClassVar[PlanStatus]
    PLAN_STATUS_NO_PLAN_FOUND: _ClassVar[PlanStatus]

class BatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_STATUS_UNSPECIFIED: _ClassVar[BatchStatus]
    BATCH_STATUS_OPTIMAL: _ClassVar[BatchStatus]
    BATCH_STATUS_FEASIBLE: _ClassVar[BatchStatus]

class ReturnCondition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETURN_CONDITION_UNSPECIFIED: _ClassVar[ReturnCondition]
    RETURN_CONDITION_NEW: _ClassVar[ReturnCondition]
    RETURN_CONDITION_OPENED: _ClassVar[ReturnCondition]
    RETURN_CONDITION_DAMAGED: _ClassVar[ReturnCondition]

class Disposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPOSITION_UNSPECIFIED: _ClassVar[Disposition]
    DISPOSITION_RESTOCK: _ClassVar[Disposition]
    DISPOSITION_REFURBISH: _ClassVar[Disposition]
    DISPOSITION_LIQUIDATE: _ClassVar[Disposition]
PLAN_STATUS_UNSPECIFIED: PlanStatus
PLAN_STATUS_OPTIMAL: PlanStatus
PLAN_STATUS_FEASIBLE: PlanStatus
PLAN_STATUS_INFEASIBLE: PlanStatus
PLAN_STATUS_NO_PLAN_FOUND: PlanStatus
BATCH_STATUS_UNSPECIFIED: BatchStatus
BATCH_STATUS_OPTIMAL: BatchStatus
BATCH_STATUS_FEASIBLE: BatchStatus
RETURN_CONDITION_UNSPECIFIED: ReturnCondition
RETURN_CONDITION_NEW: ReturnCondition
RETURN_CONDITION_OPENED: ReturnCondition
RETURN_CONDITION_DAMAGED: ReturnCondition
DISPOSITION_UNSPECIFIED: Disposition
DISPOSITION_RESTOCK: Disposition
DISPOSITION_REFURBISH: Disposition
DISPOSITION_LIQUIDATE: Disposition

class Date(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...

class Line(_message.Message):
    __slots__ = ("line_id", "sku", "quantity", "unit_weight_kg", "ship_group")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_WEIGHT_KG_FIELD_NUMBER: _ClassVar[int]
    SHIP_GROUP_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    sku: str
    quantity: int
    unit_weight_kg: float
    ship_group: str
    def __init__(self, line_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_weight_kg: _Optional[float] = ..., ship_group: _Optional[str] = ...) -> None: ...

class Destination(_message.Message):
    __slots__ = ("latitude", "longitude", "postal_code", "region")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    postal_code: str
    region: str
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., postal_code: _Optional[str] = ..., region: _Optional[str] = ...) -> None: ...

class PenaltyOverride(_message.Message):
    __slots__ = ("per_order", "per_unit")
    PER_ORDER_FIELD_NUMBER: _ClassVar[int]
    PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    per_order: float
    per_unit: float
    def __init__(self, per_order: _Optional[float] = ..., per_unit: _Optional[float] = ...) -> None: ...

class OrderOptions(_message.Message):
    __slots__ = ("max_shipments", "ship_complete", "allow_backorder", "excluded_nodes", "policy", "penalty")
    MAX_SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    SHIP_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BACKORDER_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_NODES_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    PENALTY_FIELD_NUMBER: _ClassVar[int]
    max_shipments: int
    ship_complete: bool
    allow_backorder: bool
    excluded_nodes: _containers.RepeatedScalarFieldContainer[str]
    policy: str
    penalty: PenaltyOverride
    def __init__(self, max_shipments: _Optional[int] = ..., ship_complete: _Optional[bool] = ..., allow_backorder: _Optional[bool] = ..., excluded_nodes: _Optional[_Iterable[str]] = ..., policy: _Optional[str] = ..., penalty: _Optional[_Union[PenaltyOverride, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "lines", "destination", "deliver_by", "created_at", "channel", "customer_tier", "options")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DELIVER_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    destination: Destination
    deliver_by: Date
    created_at: _timestamp_pb2.Timestamp
    channel: str
    customer_tier: str
    options: OrderOptions
    def __init__(self, order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., deliver_by: _Optional[_Union[Date, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ..., customer_tier: _Optional[str] = ..., options: _Optional[_Union[OrderOptions, _Mapping]] = ...) -> None: ...

class RouteOrderRequest(_message.Message):
    __slots__ = ("order", "reserve", "time_budget_ms", "request_id")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    order: Order
    reserve: bool
    time_budget_ms: float
    request_id: str
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., reserve: _Optional[bool] = ..., time_budget_ms: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class RejectShipmentRequest(_message.Message):
    __slots__ = ("order", "node_id", "reason", "time_budget_ms", "request_id")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    order: Order
    node_id: str
    reason: str
    time_budget_ms: float
    request_id: str
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., node_id: _Optional[str] = ..., reason: _Optional[str] = ..., time_budget_ms: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class RouteOrderResponse(_message.Message):
    __slots__ = ("plan", "request_id")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    request_id: str
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ValidateOrderRequest(_message.Message):
    __slots__ = ("order", "request_id")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    order: Order
    request_id: str
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ValidateOrderResponse(_message.Message):
    __slots__ = ("valid", "violations", "request_id")
    VALID_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    request_id: str
    def __init__(self, valid: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ShipmentLine(_message.Message):
    __slots__ = ("line_id", "sku", "quantity")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    sku: str
    quantity: int
    def __init__(self, line_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class CostBreakdown(_message.Message):
    __slots__ = ("package", "units", "handling", "distance", "total", "co2e_kg")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    HANDLING_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CO2E_KG_FIELD_NUMBER: _ClassVar[int]
    package: float
    units: float
    handling: float
    distance: float
    total: float
    co2e_kg: float
    def __init__(self, package: _Optional[float] = ..., units: _Optional[float] = ..., handling: _Optional[float] = ..., distance: _Optional[float] = ..., total: _Optional[float] = ..., co2e_kg: _Optional[float] = ...) -> None: ...

class Shipment(_message.Message):
    __slots__ = ("node_id", "service", "lines", "ship_date", "delivery_date", "distance_km", "cost")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SHIP_DATE_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_DATE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_KM_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    service: str
    lines: _containers.RepeatedCompositeFieldContainer[ShipmentLine]
    ship_date: Date
    delivery_date: Date
    distance_km: float
    cost: CostBreakdown
    def __init__(self, node_id: _Optional[str] = ..., service: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ShipmentLine, _Mapping]]] = ..., ship_date: _Optional[_Union[Date, _Mapping]] = ..., delivery_date: _Optional[_Union[Date, _Mapping]] = ..., distance_km: _Optional[float] = ..., cost: _Optional[_Union[CostBreakdown, _Mapping]] = ...) -> None: ...

class BackorderedLine(_message.Message):
    __slots__ = ("line_id", "sku", "quantity")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    sku: str
    quantity: int
    def __init__(self, line_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class Alternative(_message.Message):
    __slots__ = ("node_ids", "objective", "extra_objective", "exact")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    objective: float
    extra_objective: float
    exact: bool
    def __init__(self, node_ids: _Optional[_Iterable[str]] = ..., objective: _Optional[float] = ..., extra_objective: _Optional[float] = ..., exact: _Optional[bool] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("summary", "alternative", "binding", "candidates_considered", "candidates_pruned")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_CONSIDERED_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_PRUNED_FIELD_NUMBER: _ClassVar[int]
    summary: str
    alternative: Alternative
    binding: _containers.RepeatedScalarFieldContainer[str]
    candidates_considered: int
    candidates_pruned: int
    def __init__(self, summary: _Optional[str] = ..., alternative: _Optional[_Union[Alternative, _Mapping]] = ..., binding: _Optional[_Iterable[str]] = ..., candidates_considered: _Optional[int] = ..., candidates_pruned: _Optional[int] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("order_id", "status", "shipments", "backordered", "total_cost", "shipping_cost", "penalty_cost", "objective", "lower_bound", "gap", "solve_time_ms", "solver", "snapshot_version", "staleness_s", "currency", "co2e_kg", "infeasible_reason", "explanation", "reservation_id", "stock_from_cache", "opportunity_cost")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    BACKORDERED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_COST_FIELD_NUMBER: _ClassVar[int]
    PENALTY_COST_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    STALENESS_S_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CO2E_KG_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    STOCK_FROM_CACHE_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_COST_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    status: PlanStatus
    shipments: _containers.RepeatedCompositeFieldContainer[Shipment]
    backordered: _containers.RepeatedCompositeFieldContainer[BackorderedLine]
    total_cost: float
    shipping_cost: float
    penalty_cost: float
    objective: float
    lower_bound: float
    gap: float
    solve_time_ms: float
    solver: str
    snapshot_version: int
    staleness_s: float
    currency: str
    co2e_kg: float
    infeasible_reason: str
    explanation: Explanation
    reservation_id: str
    stock_from_cache: bool
    opportunity_cost: float
    def __init__(self, order_id: _Optional[str] = ..., status: _Optional[_Union[PlanStatus, str]] = ..., shipments: _Optional[_Iterable[_Union[Shipment, _Mapping]]] = ..., backordered: _Optional[_Iterable[_Union[BackorderedLine, _Mapping]]] = ..., total_cost: _Optional[float] = ..., shipping_cost: _Optional[float] = ..., penalty_cost: _Optional[float] = ..., objective: _Optional[float] = ..., lower_bound: _Optional[float] = ..., gap: _Optional[float] = ..., solve_time_ms: _Optional[float] = ..., solver: _Optional[str] = ..., snapshot_version: _Optional[int] = ..., staleness_s: _Optional[float] = ..., currency: _Optional[str] = ..., co2e_kg: _Optional[float] = ..., infeasible_reason: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., reservation_id: _Optional[str] = ..., stock_from_cache: _Optional[bool] = ..., opportunity_cost: _Optional[float] = ...) -> None: ...

class RouteBatchRequest(_message.Message):
    __slots__ = ("orders", "reserve", "time_budget_ms", "request_id")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    reserve: bool
    time_budget_ms: float
    request_id: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., reserve: _Optional[bool] = ..., time_budget_ms: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class BatchKpis(_message.Message):
    __slots__ = ("orders", "orders_complete", "orders_unallocated", "units_ordered", "units_shipped", "shipments", "shipments_per_order", "fill_rate", "shipping_cost", "penalty_cost", "total_cost", "units_by_node", "shipments_by_node")
    class UnitsByNodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ShipmentsByNodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    ORDERS_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ORDERS_UNALLOCATED_FIELD_NUMBER: _ClassVar[int]
    UNITS_ORDERED_FIELD_NUMBER: _ClassVar[int]
    UNITS_SHIPPED_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_PER_ORDER_FIELD_NUMBER: _ClassVar[int]
    FILL_RATE_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_COST_FIELD_NUMBER: _ClassVar[int]
    PENALTY_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_NODE_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_BY_NODE_FIELD_NUMBER: _ClassVar[int]
    orders: int
    orders_complete: int
    orders_unallocated: int
    units_ordered: int
    units_shipped: int
    shipments: int
    shipments_per_order: float
    fill_rate: float
    shipping_cost: float
    penalty_cost: float
    total_cost: float
    units_by_node: _containers.ScalarMap[str, int]
    shipments_by_node: _containers.ScalarMap[str, int]
    def __init__(self, orders: _Optional[int] = ..., orders_complete: _Optional[int] = ..., orders_unallocated: _Optional[int] = ..., units_ordered: _Optional[int] = ..., units_shipped: _Optional[int] = ..., shipments: _Optional[int] = ..., shipments_per_order: _Optional[float] = ..., fill_rate: _Optional[float] = ..., shipping_cost: _Optional[float] = ..., penalty_cost: _Optional[float] = ..., total_cost: _Optional[float] = ..., units_by_node: _Optional[_Mapping[str, int]] = ..., shipments_by_node: _Optional[_Mapping[str, int]] = ...) -> None: ...

class RouteBatchResponse(_message.Message):
    __slots__ = ("status", "plans", "objective", "lower_bound", "gap", "kpis", "solve_time_ms", "snapshot_version", "request_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PLANS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    status: BatchStatus
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    objective: float
    lower_bound: float
    gap: float
    kpis: BatchKpis
    solve_time_ms: float
    snapshot_version: int
    request_id: str
    def __init__(self, status: _Optional[_Union[BatchStatus, str]] = ..., plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ..., objective: _Optional[float] = ..., lower_bound: _Optional[float] = ..., gap: _Optional[float] = ..., kpis: _Optional[_Union[BatchKpis, _Mapping]] = ..., solve_time_ms: _Optional[float] = ..., snapshot_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReturnLine(_message.Message):
    __slots__ = ("line_id", "sku", "quantity", "condition")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    sku: str
    quantity: int
    condition: ReturnCondition
    def __init__(self, line_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., condition: _Optional[_Union[ReturnCondition, str]] = ...) -> None: ...

class ReturnOptions(_message.Message):
    __slots__ = ("pickup_allowed", "dropoff_allowed", "dropoff_radius_km", "excluded_nodes")
    PICKUP_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_RADIUS_KM_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_NODES_FIELD_NUMBER: _ClassVar[int]
    pickup_allowed: bool
    dropoff_allowed: bool
    dropoff_radius_km: float
    excluded_nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pickup_allowed: _Optional[bool] = ..., dropoff_allowed: _Optional[bool] = ..., dropoff_radius_km: _Optional[float] = ..., excluded_nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class RouteReturnRequest(_message.Message):
    __slots__ = ("return_id", "lines", "origin", "order_id", "reason", "options", "time_budget_ms", "request_id")
    RETURN_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    return_id: str
    lines: _containers.RepeatedCompositeFieldContainer[ReturnLine]
    origin: Destination
    order_id: str
    reason: str
    options: ReturnOptions
    time_budget_ms: float
    request_id: str
    def __init__(self, return_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ReturnLine, _Mapping]]] = ..., origin: _Optional[_Union[Destination, _Mapping]] = ..., order_id: _Optional[str] = ..., reason: _Optional[str] = ..., options: _Optional[_Union[ReturnOptions, _Mapping]] = ..., time_budget_ms: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReturnAllocation(_message.Message):
    __slots__ = ("line_id", "sku", "quantity", "disposition", "shipping", "handling", "recovery", "net")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_FIELD_NUMBER: _ClassVar[int]
    HANDLING_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    sku: str
    quantity: int
    disposition: Disposition
    shipping: float
    handling: float
    recovery: float
    net: float
    def __init__(self, line_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., disposition: _Optional[_Union[Disposition, str]] = ..., shipping: _Optional[float] = ..., handling: _Optional[float] = ..., recovery: _Optional[float] = ..., net: _Optional[float] = ...) -> None: ...

class ReturnPackage(_message.Message):
    __slots__ = ("node_id", "route", "package_cost", "net_cost", "lines", "transit_days")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_COST_FIELD_NUMBER: _ClassVar[int]
    NET_COST_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TRANSIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    route: str
    package_cost: float
    net_cost: float
    lines: _containers.RepeatedCompositeFieldContainer[ReturnAllocation]
    transit_days: int
    def __init__(self, node_id: _Optional[str] = ..., route: _Optional[str] = ..., package_cost: _Optional[float] = ..., net_cost: _Optional[float] = ..., lines: _Optional[_Iterable[_Union[ReturnAllocation, _Mapping]]] = ..., transit_days: _Optional[int] = ...) -> None: ...

class ReturnPlan(_message.Message):
    __slots__ = ("return_id", "status", "packages", "shipping_cost", "handling_cost", "recovery_value", "net_cost", "lower_bound", "gap", "solve_time_ms", "solver", "has_runner_up", "runner_up_nodes", "runner_up_net_cost", "infeasible_reason")
    RETURN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_COST_FIELD_NUMBER: _ClassVar[int]
    HANDLING_COST_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_VALUE_FIELD_NUMBER: _ClassVar[int]
    NET_COST_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    HAS_RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_NODES_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_NET_COST_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    return_id: str
    status: PlanStatus
    packages: _containers.RepeatedCompositeFieldContainer[ReturnPackage]
    shipping_cost: float
    handling_cost: float
    recovery_value: float
    net_cost: float
    lower_bound: float
    gap: float
    solve_time_ms: float
    solver: str
    has_runner_up: bool
    runner_up_nodes: _containers.RepeatedScalarFieldContainer[str]
    runner_up_net_cost: float
    infeasible_reason: str
    def __init__(self, return_id: _Optional[str] = ..., status: _Optional[_Union[PlanStatus, str]] = ..., packages: _Optional[_Iterable[_Union[ReturnPackage, _Mapping]]] = ..., shipping_cost: _Optional[float] = ..., handling_cost: _Optional[float] = ..., recovery_value: _Optional[float] = ..., net_cost: _Optional[float] = ..., lower_bound: _Optional[float] = ..., gap: _Optional[float] = ..., solve_time_ms: _Optional[float] = ..., solver: _Optional[str] = ..., has_runner_up: _Optional[bool] = ..., runner_up_nodes: _Optional[_Iterable[str]] = ..., runner_up_net_cost: _Optional[float] = ..., infeasible_reason: _Optional[str] = ...) -> None: ...

class RouteReturnResponse(_message.Message):
    __slots__ = ("plan", "request_id")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    plan: ReturnPlan
    request_id: str
    def __init__(self, plan: _Optional[_Union[ReturnPlan, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReturnReceipt(_message.Message):
    __slots__ = ("line_id", "node_id", "sku", "quantity", "disposition")
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    node_id: str
    sku: str
    quantity: int
    disposition: Disposition
    def __init__(self, line_id: _Optional[str] = ..., node_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., disposition: _Optional[_Union[Disposition, str]] = ...) -> None: ...

class CommitReturnRequest(_message.Message):
    __slots__ = ("return_id", "received", "request_id")
    RETURN_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    return_id: str
    received: _containers.RepeatedCompositeFieldContainer[ReturnReceipt]
    request_id: str
    def __init__(self, return_id: _Optional[str] = ..., received: _Optional[_Iterable[_Union[ReturnReceipt, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CommitReturnResponse(_message.Message):
    __slots__ = ("units_restocked", "receipts_applied", "request_id")
    UNITS_RESTOCKED_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    units_restocked: int
    receipts_applied: int
    request_id: str
    def __init__(self, units_restocked: _Optional[int] = ..., receipts_applied: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...
