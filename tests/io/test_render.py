"""The CLI's plan output: JSON without float noise, and the text report says when the objective
is not money."""

from __future__ import annotations

import json

from dom_engine.domain import Plan, PlanStatus
from dom_engine.io.render import format_plan, plan_to_json, tidy


def test_json_money_prints_without_float_noise():
    noisy = 0.1 + 0.2                       # 0.30000000000000004
    plan = Plan("o-1", PlanStatus.OPTIMAL, total_cost=10.01 + noisy, shipping_cost=noisy, objective=noisy)
    text = plan_to_json(plan)
    assert "0.30000000000000004" not in text and "10.310000000000002" not in text
    data = json.loads(text)
    assert data["shipping_cost"] == 0.3 and data["total_cost"] == 10.31
    assert tidy({"a": [float("nan"), 1 / 3]})["a"][1] == 0.333333333


def test_the_report_says_when_the_objective_is_not_money():
    same = format_plan(Plan("o-1", PlanStatus.OPTIMAL, total_cost=10.0, objective=10.0))
    ranked = format_plan(Plan("o-2", PlanStatus.OPTIMAL, total_cost=10.02, objective=20_010.02))
    assert "not money" not in same and "not money" in ranked
