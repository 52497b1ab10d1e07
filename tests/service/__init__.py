"""Tests of the gRPC service layer (dom_engine.service) over a real loopback server."""
