"""The test suite; mirrors the dom_engine package."""
