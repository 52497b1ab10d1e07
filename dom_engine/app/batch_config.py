"""[batch]: batch allocation settings (the keys are documented with the rest in app/config.py)."""

from __future__ import annotations

from ..domain import ConfigError
from ..domain.batch import BatchSettings, PriorityRule
from ..io.tables import Table


def parse_batch(t: Table) -> BatchSettings:
    """[batch] -> BatchSettings (whose own checks name the key, e.g. "batch.max_orders")."""
    d = BatchSettings()
    rule = t.get("priority_rule", str, d.priority_rule.value)
    try:
        priority_rule = PriorityRule(rule)
    except ValueError:
        choices = [r.value for r in PriorityRule]
        raise ConfigError(t.key("priority_rule"), f"must be one of {choices}, got {rule!r}") from None
    tiers = t.table("tier_points")
    tier_points = {tier: tiers.get(tier, float) for tier in list(tiers.data)}
    settings = BatchSettings(
        max_orders=t.get("max_orders", int, d.max_orders),
        time_budget_ms=t.get("time_budget_ms", float, d.time_budget_ms),
        priority_rule=priority_rule,
        tier_points=tier_points,
        points_per_day_waiting=t.get("points_per_day_waiting", float, d.points_per_day_waiting),
        due_soon_days=t.get("due_soon_days", int, d.due_soon_days),
        due_soon_points=t.get("due_soon_points", float, d.due_soon_points),
        penalty_per_point=t.get("penalty_per_point", float, d.penalty_per_point),
        executor=t.get("executor", str, d.executor),
        pricing_workers=t.get("pricing_workers", int, d.pricing_workers),
        ray_address=t.get("ray_address", str, d.ray_address),
    )
    t.done()
    return settings
