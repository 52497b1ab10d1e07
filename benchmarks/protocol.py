"""Online routing policies on the published protocol of Jasin & Sinha (2015) / Ma (2023): cost
divided by the deterministic LP bound (DLP), several instances x arrival sequences, one run.

    python -m benchmarks.protocol                              # warm-up network, 3 instances x 2 sequences
    python -m benchmarks.protocol --network big --instances 2  # 99 cities x 10 sites (~15 min)
    python -m benchmarks.protocol --resolves 25                # re-solve the fluid LP 25 times a horizon

Instances: dom_engine.testing.protocol (the papers' networks, costs, order types, demand and stock
rules). Every policy sees the same arrivals (common random numbers) from the same starting stock:
- nearest: each unit from its nearest site carrying the item, unfilled when that site is out
  (the papers' "myopic");
- independent / dilated: the DLP's fractions rounded per order, independently per item or by Ma's
  dilated rounding (each site opens at an exponential time, an item takes the site minimising
  time / fraction); a site out of stock leaves the unit unfilled, as in the papers' code;
- engine (myopic): the engine's exact per-order optimum on the stock left (solve_order, RouteOrder's
  optimizer);
- engine (inventory-aware): the same, with every unit priced at its opportunity cost: the stock
  rows' duals of the fluid LP (optimize.opportunity) of the arrivals still expected, on the stock
  left, re-solved --resolves times over the horizon (warm: only the stock rows' bounds change).
Costs are the engine's (protocol_lp.region_costs); the engine's plans are checked to cost what the
protocol charges. On the big network the DLP (707,850 columns) is solved only with --dlp (HiGHS'
interior point, minutes); without it the rounding policies round the fluid LP's fractions and the
ratios are to the fluid LP. The fluid LP is at least the DLP, so a ratio to the DLP is that ratio
times fluid LP / DLP (printed whenever the DLP is solved).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.protocol_lp import RegionCosts, region_costs, solve_dlp
from dom_engine.domain.stock import StockView
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.batch.compiled_pricing import warm_up_batch
from dom_engine.optimize.compiled_search import warm_up
from dom_engine.optimize.opportunity import FluidModel
from dom_engine.testing.protocol import BIG, PROTOCOL_NOW, WARMUP, ProtocolInstance, protocol_instance

POLICIES = ("nearest", "independent", "dilated", "engine (myopic)", "engine (inventory-aware)")
BUDGET_MS = 1000.0


def _rounded(x: np.ndarray, dilated: bool, rng: np.random.Generator) -> np.ndarray:
    """Sites (row K = unfilled) for the items of one order from their fractions x (K + 1, n)."""
    if dilated:
        opening = rng.exponential(size=x.shape[0])
        with np.errstate(divide="ignore"):
            return np.argmin(opening[:, None] / x, axis=0)
    cum = np.cumsum(x / x.sum(axis=0, keepdims=True), axis=0)
    return np.minimum((cum < rng.random(x.shape[1])[None, :]).sum(axis=0), x.shape[0] - 1)


def _take(sites: np.ndarray, items: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Take one unit of each item from its site; a site out of stock leaves it unfilled (row K)."""
    K = left.shape[0]
    out = sites.copy()
    for a, (k, i) in enumerate(zip(sites.tolist(), items.tolist(), strict=True)):
        if k < K and left[k, i] > 0:
            left[k, i] -= 1
        else:
            out[a] = K
    return out


def run_rule(inst: ProtocolInstance, costs: RegionCosts, qs: np.ndarray, js: np.ndarray, name: str,
             fractions: dict | None, seed: int) -> float:
    """Total cost of a rule policy (nearest, independent, dilated) over one arrival sequence."""
    rng = np.random.default_rng([seed, 7])
    left, K, total = inst.stock.copy(), inst.stock.shape[0], 0.0
    for q, j in zip(qs.tolist(), js.tolist(), strict=True):
        if q == 0:
            continue
        items = inst.types[q]
        if name == "nearest":
            sites = np.where(inst.nearest[items, j] >= 0, inst.nearest[items, j], K)
        else:
            sites = _rounded(fractions[(q, j)], name == "dilated", rng)  # type: ignore[index]
        total += costs.of_assignment(_take(sites, items, left), j)
    return total


def run_engine(inst: ProtocolInstance, costs: RegionCosts, qs: np.ndarray, js: np.ndarray,
               model: FluidModel | None, resolves: int) -> tuple[float, float, float]:
    """(total cost, seconds routing, seconds re-solving prices) of the engine over one sequence,
    inventory-aware when `model` is given (prices re-solved `resolves` times)."""
    left, K, T = inst.stock.copy(), inst.stock.shape[0], inst.horizon
    prices = None
    total, routing, pricing = 0.0, 0.0, 0.0
    every = max(1, T // max(1, resolves))
    for t, (q, j) in enumerate(zip(qs.tolist(), js.tolist(), strict=True)):
        if model is not None and t % every == 0:
            got = model.solve(left, scale=(T - t) / T)
            prices, pricing = got.prices, pricing + got.seconds
        if q == 0:
            continue
        items = inst.types[q]
        started = time.perf_counter()
        view = StockView(1, tuple(inst.skus[i] for i in items.tolist()), left[:, items])
        plan = solve_order(OrderProblem(inst.order(q, j, f"o{t}"), view, inst.network, inst.rate_card,
                                        inst.policy, PROTOCOL_NOW,
                                        None if prices is None else prices[:, items]),
                           Deadline.after_ms(BUDGET_MS))
        routing += time.perf_counter() - started
        sites = np.full(len(items), K)
        col = {sku: a for a, sku in enumerate(view.skus)}
        for shipment in plan.shipments:
            k = inst.network.index_of(shipment.node_id)
            for line in shipment.lines:
                left[k, items[col[line.sku]]] -= line.quantity
                sites[col[line.sku]] = k
        charged = costs.of_assignment(sites, j)
        if abs(charged - plan.total_cost) > 1e-6 * max(1.0, charged):
            raise AssertionError(f"plan costs {plan.total_cost}, the protocol charges {charged}")
        total += plan.total_cost
    return total, routing, pricing


def fluid_fractions(inst: ProtocolInstance, model: FluidModel, shares: list) -> dict:
    """Per (type, region): each item's share per site (row K: unfilled) in the fluid LP's plans."""
    K, out = inst.stock.shape[0], {}
    pairs = [(q, j) for q in range(1, len(inst.types)) for j in range(len(inst.regions))
             if inst.rates[q, j] > 0]
    for k, (q, j) in enumerate(pairs):
        x = np.zeros((K + 1, len(inst.types[q])))
        for share, col in shares[k]:
            nodes = model.entries[k].p.opt_node[col.options]
            for row, node in enumerate(nodes.tolist()):
                x[node] += share * col.x[row]
            x[K] += share * col.unfilled
        out[(q, j)] = x
    return out


def measure(network: str = "warm-up", instances: int = 3, sequences: int = 2, resolves: int = 10,
            dlp: bool | None = None, log=print) -> dict:
    """Per instance and sequence: every policy's cost, the DLP and fluid LP bounds, the times."""
    warm_up(), warm_up_batch()
    size = WARMUP if network == "warm-up" else BIG
    dlp = (size is WARMUP) if dlp is None else dlp
    rows = []
    for seed in range(instances):
        inst = protocol_instance(size, seed)
        costs = region_costs(inst)
        started = time.perf_counter()
        model = FluidModel(inst.forecast(inst.horizon), inst.stock_view(), inst.network, inst.rate_card,
                           inst.policy, PROTOCOL_NOW)
        cold = model.solve(inst.stock)
        cold_s = time.perf_counter() - started
        reference = solve_dlp(inst, costs) if dlp else None
        fractions = reference.fractions if reference else fluid_fractions(inst, model, cold.shares)
        log(f"instance {seed}: fluid LP {cold.objective:,.1f} ({cold_s:.2f} s, {cold.rounds} rounds, "
            f"{cold.columns:,} plans)" + (f", DLP {reference.objective:,.1f} ({reference.seconds:.2f} s)"
                                          if reference else ""))
        try:
            for s in range(sequences):
                qs, js = inst.arrivals(np.random.default_rng([seed, s, 99]))
                cost = {name: run_rule(inst, costs, qs, js, name, fractions, s) for name in POLICIES[:3]}
                cost[POLICIES[3]], myopic_s, _ = run_engine(inst, costs, qs, js, None, resolves)
                cost[POLICIES[4]], aware_s, price_s = run_engine(inst, costs, qs, js, model, resolves)
                n = int((qs > 0).sum())
                rows.append({"instance": seed, "sequence": s, "cost": cost, "fluid": cold.objective,
                             "dlp": reference.objective if reference else None, "orders": n,
                             "myopic_ms": 1000 * myopic_s / n, "aware_ms": 1000 * aware_s / n,
                             "pricing_s": price_s, "fluid_s": cold_s,
                             "dlp_s": reference.seconds if reference else None})
                log(f"  sequence {s}: " + ", ".join(f"{k} {v / (reference or cold).objective:.4f}"
                                                    for k, v in cost.items()))
        finally:
            model.close()
    return {"network": size.name, "resolves": resolves, "rows": rows}


def table(result: dict) -> str:
    rows = result["rows"]
    base = "dlp" if rows and rows[0]["dlp"] is not None else "fluid"
    out = [f"Protocol, {result['network']} network: {len(rows)} runs (instances x sequences), "
           f"fluid LP re-solved {result['resolves']} times a horizon; cost / {base.upper()} "
           "(mean, min-max):", "",
           "| policy | cost / " + ("DLP" if base == "dlp" else "fluid LP") + " | min | max |",
           "|---|---|---|---|"]
    for name in POLICIES:
        r = np.array([row["cost"][name] / row[base] for row in rows])
        out.append(f"| {name} | {r.mean():.4f} | {r.min():.4f} | {r.max():.4f} |")
    if base == "dlp":
        gap = np.array([row["fluid"] / row["dlp"] for row in rows])
        out += ["", f"Fluid LP (plans) / DLP: {gap.mean():.4f} (it is the tighter bound)."]
    aware = np.array([row["aware_ms"] for row in rows])
    myopic = np.array([row["myopic_ms"] for row in rows])
    out += ["", f"Engine per order: myopic {np.median(myopic):.3f} ms, "
            f"inventory-aware {np.median(aware):.3f} ms "
            f"(means over a sequence); cold fluid LP {np.median([r['fluid_s'] for r in rows]):.2f} s, "
            f"re-solves {np.median([r['pricing_s'] for r in rows]) / max(1, result['resolves']):.3f} s each"
            + (f"; DLP {np.median([r['dlp_s'] for r in rows]):.2f} s" if base == "dlp" else "")]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", choices=("warm-up", "big"), default="warm-up")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--resolves", type=int, default=10)
    parser.add_argument("--dlp", action="store_true", help="solve the DLP on the big network too")
    args = parser.parse_args(argv)
    result = measure(args.network, args.instances, args.sequences, args.resolves, args.dlp or None)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
