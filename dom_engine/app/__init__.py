"""Use cases: routing, batch routing and stock administration, composed by the bootstrap."""
