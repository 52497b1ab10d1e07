"""Per-order outcomes of a simulation, off the heap: a run turns its outcomes into Arrow record
batches as they stream out of the replay (~100 bytes an order instead of a Python object each),
and simulate() appends each finished run to one Parquet file (a spool) and drops it, so a year of
orders x scenarios never sits in memory. The result reads them back per scenario on demand."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .replay import Outcome
from .returns import ReturnOutcome

_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}


def _schema(record: type) -> pa.Schema:
    return pa.schema([("scenario", pa.string())]
                     + [(f.name, _TYPES[str(f.type)]) for f in dataclasses.fields(record)])


SCHEMA = _schema(Outcome)
RETURN_SCHEMA = _schema(ReturnOutcome)       # returns.parquet: one row per return
FIELDS = tuple(SCHEMA.names[1:])


def outcome_batch(scenario: str, outcomes: Sequence[Outcome | ReturnOutcome],
                  schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    """Outcomes (or returns, with RETURN_SCHEMA) of one scenario as an Arrow record batch."""
    columns = [pa.array([scenario] * len(outcomes), pa.string())]
    columns += [pa.array([getattr(o, name) for o in outcomes], schema.field(name).type)
                for name in schema.names[1:]]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class OutcomeFile:
    """The spooled outcomes (one Parquet file, a row group per batch): `table(scenario)` as Arrow
    (pandas: `.to_pandas()`), `result.outcomes[scenario]` as Outcome objects. The file lives in a
    temporary folder removed with this object (write_outputs copies it into --out)."""

    def __init__(self, path: Path, scenarios: Sequence[str], folder: Path | None = None) -> None:
        self.path, self.scenarios = path, tuple(scenarios)
        if folder is not None:
            weakref.finalize(self, shutil.rmtree, folder, True)

    def table(self, scenario: str | None = None) -> pa.Table:
        if not self.path.exists():
            return SCHEMA.empty_table()
        filters = None if scenario is None else [("scenario", "=", scenario)]
        return pq.read_table(self.path, filters=filters, schema=SCHEMA)

    def __getitem__(self, scenario: str) -> list[Outcome]:
        if scenario not in self.scenarios:
            raise KeyError(scenario)
        return [Outcome(**{name: row[name] for name in FIELDS}) for row in self.table(scenario).to_pylist()]

    def get(self, scenario: str, default: list[Outcome] | None = None) -> list[Outcome] | None:
        return self[scenario] if scenario in self.scenarios else default

    def __iter__(self) -> Iterator[str]:
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)

    def values(self) -> list[list[Outcome]]:
        return [self[name] for name in self.scenarios]


class OutcomeSpool:
    """Appends runs' outcome tables to one Parquet file in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="dom-simulate-"))
        self.path = self.folder / "outcomes.parquet"
        self.scenarios: list[str] = []
        self._writer: pq.ParquetWriter | None = None

    def write(self, scenario: str, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, SCHEMA)
        self._writer.write_table(table)
        if scenario not in self.scenarios:
            self.scenarios.append(scenario)

    def close(self, order: Sequence[str]) -> OutcomeFile:
        """The file, scenarios listed in `order`; runs were appended as they finished (the rows of
        a scenario are in stream order)."""
        if self._writer is not None:
            self._writer.close()
        return OutcomeFile(self.path, [s for s in order if s in self.scenarios], self.folder)
