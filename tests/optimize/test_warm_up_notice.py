"""A first run that compiles the kernels says so (instead of sitting silent for half a minute);
loading them from numba's cache says nothing."""

from __future__ import annotations

import logging
import time

from dom_engine.optimize import compiled_search


def _slow_load_logs(monkeypatch, caplog, module, loader: str, warm) -> str:
    """What `warm()` logs when `module.loader` takes 0.3 s (compiling) and `module._loaded` is unset."""
    monkeypatch.setattr(compiled_search, "COMPILE_NOTICE_S", 0.05)
    monkeypatch.setattr(module, "_loaded", False)
    monkeypatch.setattr(module, loader, lambda: time.sleep(0.3))
    with caplog.at_level(logging.WARNING, logger="dom_engine"):
        warm()
    return caplog.text


def test_a_slow_warm_up_is_announced_and_a_fast_one_is_not(monkeypatch, caplog):
    text = _slow_load_logs(monkeypatch, caplog, compiled_search, "_load_kernels", compiled_search.warm_up)
    assert "compiling the optimizer's kernels" in text and "compiled in" in text

    caplog.clear()
    monkeypatch.setattr(compiled_search, "_loaded", False)
    monkeypatch.setattr(compiled_search, "_load_kernels", lambda: None)
    with caplog.at_level(logging.WARNING, logger="dom_engine"):
        compiled_search.warm_up()
    time.sleep(0.1)                       # past the notice's delay: it was cancelled, not late
    assert caplog.text == ""


def test_the_batch_pricing_kernel_announces_its_compilation_too(monkeypatch, caplog):
    from dom_engine.optimize.batch import compiled_pricing

    text = _slow_load_logs(monkeypatch, caplog, compiled_pricing, "load_kernel",
                           compiled_pricing.warm_up_batch)
    assert "compiling the batch pricing kernel" in text and "compiled in" in text
    assert compiled_pricing._loaded
