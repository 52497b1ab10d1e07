"""Errors a caller can cause. The service maps each class to one gRPC status in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    """Base class: a request the engine refuses, with the offending field named."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ValidationError(DomainError):
    """Malformed or out-of-limit input (maps to INVALID_ARGUMENT)."""


class NotFoundError(DomainError):
    """A referenced entity (SKU, node, policy) does not exist. Inside an order this is still a bad
    request (INVALID_ARGUMENT); only lookups of a stored object by id map to NOT_FOUND."""


class PreconditionError(DomainError):
    """The request is well formed but the state forbids it (maps to FAILED_PRECONDITION), e.g. an
    order already rejected by as many nodes as allowed."""


class ConfigError(DomainError):
    """A configuration or data file is invalid (raised at start-up, never per request)."""


def require(condition: bool, field: str, message: str) -> None:
    """Raise ValidationError naming `field` unless `condition` holds."""
    if not condition:
        raise ValidationError(field, message)


@contextmanager
def under_field(prefix: str) -> Iterator[None]:
    """Re-raise any request error (a DomainError other than ConfigError, which names server
    configuration, not the request) from the block with its field path prefixed by `prefix`, so
    an error inside a nested object names the path from the top, e.g. "orders[3].lines[0].sku"."""
    try:
        yield
    except ConfigError:
        raise
    except DomainError as err:
        raise type(err)(f"{prefix}.{err.field}", err.message) from err
