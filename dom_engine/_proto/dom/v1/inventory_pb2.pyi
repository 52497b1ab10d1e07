import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StockRow(_message.Message):
    __slots__ = ("node_id", "sku", "on_hand", "safety_stock")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    ON_HAND_FIELD_NUMBER: _ClassVar[int]
    SAFETY_STOCK_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    sku: str
    on_hand: int
    safety_stock: int
    def __init__(self, node_id: _Optional[str] = ..., sku: _Optional[str] = ..., on_hand: _Optional[int] = ..., safety_stock: _Optional[int] = ...) -> None: ...

class StockDelta(_message.Message):
    __slots__ = ("event_id", "node_id", "sku", "on_hand", "adjust", "safety_stock")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    ON_HAND_FIELD_NUMBER: _ClassVar[int]
    ADJUST_FIELD_NUMBER: _ClassVar[int]
    SAFETY_STOCK_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    node_id: str
    sku: str
    on_hand: int
    adjust: int
    safety_stock: int
    def __init__(self, event_id: _Optional[str] = ..., node_id: _Optional[str] = ..., sku: _Optional[str] = ..., on_hand: _Optional[int] = ..., adjust: _Optional[int] = ..., safety_stock: _Optional[int] = ...) -> None: ...

class StockSnapshot(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[StockRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[StockRow, _Mapping]]] = ...) -> None: ...

class StockDeltas(_message.Message):
    __slots__ = ("deltas",)
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    deltas: _containers.RepeatedCompositeFieldContainer[StockDelta]
    def __init__(self, deltas: _Optional[_Iterable[_Union[StockDelta, _Mapping]]] = ...) -> None: ...

class UpsertInventoryRequest(_message.Message):
    __slots__ = ("snapshot", "deltas", "request_id")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot: StockSnapshot
    deltas: StockDeltas
    request_id: str
    def __init__(self, snapshot: _Optional[_Union[StockSnapshot, _Mapping]] = ..., deltas: _Optional[_Union[StockDeltas, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpsertInventoryResponse(_message.Message):
    __slots__ = ("applied", "version", "request_id")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    applied: int
    version: int
    request_id: str
    def __init__(self, applied: _Optional[int] = ..., version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class HeldUnits(_message.Message):
    __slots__ = ("node_id", "sku", "quantity")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    sku: str
    quantity: int
    def __init__(self, node_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("reservation_id", "order_id", "allocations", "version", "expires_at", "committed")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    order_id: str
    allocations: _containers.RepeatedCompositeFieldContainer[HeldUnits]
    version: int
    expires_at: _timestamp_pb2.Timestamp
    committed: bool
    def __init__(self, reservation_id: _Optional[str] = ..., order_id: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[HeldUnits, _Mapping]]] = ..., version: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., committed: _Optional[bool] = ...) -> None: ...
