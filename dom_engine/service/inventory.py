"""InventoryService (protos/dom/v1/inventory.proto): stock feeds and the reservation lifecycle.

Thin like RoutingServicer: parse -> the engine's stock administration (app/stock_admin.py) ->
convert. Errors are mapped by service.errors (unknown reservation -> NOT_FOUND, unreachable store
-> UNAVAILABLE). The stores validate rows and deltas (inventory.rows: quantities within
MAX_QUANTITY, duplicate rows) naming `rows[i]` / `deltas[k]`; this servicer prefixes the request
path (`snapshot.rows[i]`, `deltas.deltas[k]`), so every bad value is INVALID_ARGUMENT naming the
field of the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import numpy as np

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine.domain import ValidationError
from dom_engine.domain.errors import under_field
from dom_engine.domain.reservation import Reservation, StockDelta

if TYPE_CHECKING:
    from dom_engine.app.engine import Engine

INVENTORY_SERVICE_NAME = inventory_pb.DESCRIPTOR.services_by_name["InventoryService"].full_name
MAX_ID_LENGTH = 256


class InventoryServicer(inventory_grpc_pb.InventoryServiceServicer):
    """Serves dom.v1.InventoryService through the engine's StockAdmin use case."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def UpsertInventory(  # noqa: N802 (gRPC method name)
        self, request: inventory_pb.UpsertInventoryRequest, context: grpc.ServicerContext
    ) -> inventory_pb.UpsertInventoryResponse:
        stock = self.engine.stock
        kind = request.WhichOneof("change")
        if kind == "snapshot":
            rows = request.snapshot.rows
            node_ids, skus, on_hand, safety = snapshot_columns(rows)
            with under_field("snapshot"):
                version = stock.load_snapshot(node_ids, skus, on_hand, safety)
            applied = len(rows)
        elif kind == "deltas":
            deltas = deltas_from_proto(request.deltas.deltas)
            with under_field("deltas"):
                applied, version = stock.apply_deltas(deltas)
        else:
            raise ValidationError("change", "set either snapshot or deltas")
        return inventory_pb.UpsertInventoryResponse(applied=applied, version=version,
                                                    request_id=request.request_id[:MAX_ID_LENGTH])

    def GetReservation(  # noqa: N802
        self, request: inventory_pb.ReservationRequest, context: grpc.ServicerContext
    ) -> inventory_pb.Reservation:
        return reservation_to_proto(self.engine.stock.reservation(_reservation_id(request)))

    def CommitReservation(  # noqa: N802
        self, request: inventory_pb.ReservationRequest, context: grpc.ServicerContext
    ) -> inventory_pb.Reservation:
        committed = self.engine.stock.commit(_reservation_id(request))
        self.engine.decisions.reservation("committed", committed)
        return reservation_to_proto(committed)

    def ReleaseReservation(  # noqa: N802
        self, request: inventory_pb.ReservationRequest, context: grpc.ServicerContext
    ) -> inventory_pb.Reservation:
        released = self.engine.stock.release(_reservation_id(request))
        self.engine.decisions.reservation("released", released)
        return reservation_to_proto(released)


def _reservation_id(request: inventory_pb.ReservationRequest) -> str:
    rid = request.reservation_id
    if not rid or len(rid) > MAX_ID_LENGTH:
        raise ValidationError("reservation_id", f"must be 1 to {MAX_ID_LENGTH} characters")
    return rid


def snapshot_columns(rows) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Parallel columns of snapshot rows (quantities are checked by the store, inventory.rows)."""
    node_ids = [r.node_id for r in rows]
    skus = [r.sku for r in rows]
    on_hand = np.fromiter((r.on_hand for r in rows), dtype=np.int64, count=len(rows))
    safety = np.fromiter((r.safety_stock for r in rows), dtype=np.int64, count=len(rows))
    for k, (node_id, sku) in enumerate(zip(node_ids, skus, strict=True)):
        if not node_id or not sku:
            raise ValidationError(f"snapshot.rows[{k}]", "node_id and sku are required")
    return node_ids, skus, on_hand, safety


def deltas_from_proto(deltas) -> list[StockDelta]:
    """StockDeltas of the request; event ids are bounded here, every other field by the store
    (inventory.rows.check_deltas, the one validation both stores use)."""
    out = []
    for k, d in enumerate(deltas):
        if not d.event_id or len(d.event_id) > MAX_ID_LENGTH:
            raise ValidationError(f"deltas.deltas[{k}].event_id", f"must be 1 to {MAX_ID_LENGTH} characters")
        out.append(StockDelta(d.event_id, d.node_id, d.sku,
                              d.on_hand if d.HasField("on_hand") else None, d.adjust,
                              d.safety_stock if d.HasField("safety_stock") else None))
    return out


def reservation_to_proto(r: Reservation) -> inventory_pb.Reservation:
    msg = inventory_pb.Reservation(
        reservation_id=r.reservation_id, order_id=r.order_id, version=r.version, committed=r.committed,
        allocations=[inventory_pb.HeldUnits(node_id=a.node_id, sku=a.sku, quantity=a.quantity)
                     for a in r.allocations],
    )
    if r.expires_at is not None:
        msg.expires_at.FromDatetime(r.expires_at)
    return msg
