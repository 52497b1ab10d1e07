"""Errors a caller can cause. The service maps each class to one gRPC status in one place."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

# Error texts echo what the caller sent (an unknown SKU, a duplicate order id). A 1 MB value echoed
# whole would exceed the client's metadata limit (it then sees RESOURCE_EXHAUSTED instead of the
# error) and be copied into every log line, so echoes are cut: a run of more than MAX_ECHO
# characters without a space keeps its first ECHO_PREFIX and says how long it was; a text still
# longer than MAX_TEXT (a value with spaces in it) keeps its first MAX_TEXT the same way. MAX_ECHO
# is the longest id the service accepts (256) so legitimate ids and file paths echo whole.
MAX_ECHO = 256
ECHO_PREFIX = 64
MAX_TEXT = 1000
_LONG_RUN = re.compile(rf"\S{{{MAX_ECHO + 1},}}")


def shorten(text: str) -> str:
    """`text` with over-long echoed values cut to "<prefix>... (N chars)" (see MAX_ECHO, MAX_TEXT).
    Short texts come back unchanged, and shortening a shortened text changes nothing."""
    if len(text) <= MAX_ECHO:
        return text
    text = _LONG_RUN.sub(lambda m: _cut(m.group(), ECHO_PREFIX), text)
    # The tail "... (N chars)" is at most 24 characters: a cut text is at most MAX_TEXT long.
    return _cut(text, MAX_TEXT - 24) if len(text) > MAX_TEXT else text


def _cut(text: str, keep: int) -> str:
    return f"{text[:keep]}... ({len(text)} chars)"


class DomainError(Exception):
    """Base class: a request the engine refuses, with the offending field named. Both the field
    and the message are shortened (see `shorten`), so no error repeats a huge input whole."""

    def __init__(self, field: str, message: str) -> None:
        field, message = shorten(field), shorten(message)
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


class _Line(Protocol):
    @property
    def line_id(self) -> str: ...

    def validate(self, where: str) -> None: ...


def require_lines(lines: Sequence[_Line], needs: str) -> None:
    """At least one line (else "`needs`"), each valid, no line id twice; errors name `lines[i]`."""
    require(len(lines) > 0, "lines", needs)
    seen: set[str] = set()
    for i, line in enumerate(lines):
        line.validate(f"lines[{i}]")
        require(line.line_id not in seen, f"lines[{i}].line_id", f"duplicate line id {line.line_id!r}")
        seen.add(line.line_id)


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
