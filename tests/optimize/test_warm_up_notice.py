"""A first run that compiles the kernels says so (instead of sitting silent for half a minute);
loading them from numba's cache says nothing."""

from __future__ import annotations

import logging
import time

from dom_engine.optimize import compiled_search


def test_a_slow_warm_up_is_announced_and_a_fast_one_is_not(monkeypatch, caplog):
    monkeypatch.setattr(compiled_search, "COMPILE_NOTICE_S", 0.05)
    monkeypatch.setattr(compiled_search, "_loaded", False)
    monkeypatch.setattr(compiled_search, "_load_kernels", lambda: time.sleep(0.3))
    with caplog.at_level(logging.WARNING, logger="dom_engine"):
        compiled_search.warm_up()
    assert "compiling the optimizer's kernels" in caplog.text and "compiled in" in caplog.text

    caplog.clear()
    monkeypatch.setattr(compiled_search, "_loaded", False)
    monkeypatch.setattr(compiled_search, "_load_kernels", lambda: None)
    with caplog.at_level(logging.WARNING, logger="dom_engine"):
        compiled_search.warm_up()
    time.sleep(0.1)                       # past the notice's delay: it was cancelled, not late
    assert caplog.text == ""


def test_the_batch_pricing_kernel_announces_its_compilation_too(monkeypatch, caplog):
    from dom_engine.optimize.batch import compiled_pricing

    monkeypatch.setattr(compiled_search, "COMPILE_NOTICE_S", 0.05)
    monkeypatch.setattr(compiled_pricing, "_loaded", False)
    monkeypatch.setattr(compiled_pricing, "load_kernel", lambda: time.sleep(0.3))
    with caplog.at_level(logging.WARNING, logger="dom_engine"):
        compiled_pricing.warm_up_batch()
    assert "compiling the batch pricing kernel" in caplog.text and "compiled in" in caplog.text
    assert compiled_pricing._loaded
