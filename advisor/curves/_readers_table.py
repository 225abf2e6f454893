"""Readers for tabular curve logs: Lightning CSVLogger, Keras CSVLogger, Ultralytics, plain CSV.

One parser (the ``csv`` module and NumPy; no pandas, which costs ~0.5 s to import) feeds three
layouts. Lightning's ``metrics.csv`` has one row per ``log`` call, so step rows, validation rows
and epoch-aggregate rows of one epoch are grouped by ``epoch``, and the test-only rows written
after ``trainer.test()`` are dropped. Keras, Ultralytics and hand-written CSVs have one row per
epoch; when ``epoch`` goes backwards the file holds appended runs and is split into runs.
Records-style JSON (a list of per-epoch dicts) reuses the same code.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves._normalise import Mapping, RawRun, RawSeries, normalise_key
from advisor.errors import CurveFormatError

__all__ = ["parse_table", "read_csv_text", "table_runs"]

_EPOCH_NAMES = ("epoch", "epochs", "ep")
_STEP_NAMES = ("step", "global_step")
# Bookkeeping columns that are never hyper-parameters even when constant within a run.
_BOOKKEEPING = re.compile(
    r"^(epoch|epochs|ep|step|global_step|time|timestamp|wall_?time|.*runtime|date|"
    r"index|unnamed.*)$",
    re.IGNORECASE,
)
_TENSOR_CELL = re.compile(r"^tensor\(\s*([^,)]+)")


def _to_float(cell: str) -> float | None:
    """Parse a numeric cell; ``None`` when it is not a number."""
    try:
        return float(cell)
    except ValueError:
        m = _TENSOR_CELL.match(cell)  # str(torch.tensor(0.5)) logged by hand
        if m:
            try:
                return float(m.group(1))
            except ValueError:
                return None
        if cell.lower() in ("true", "false"):
            return None
        return None


class Table:
    """Columns of a CSV as strings, with a numeric view and an "empty cell" mask."""

    def __init__(
        self,
        header: list[str],
        rows: list[list[str]],
        source: Path,
        first_line: int = 2,
        lines: list[int] | None = None,
    ):
        self.header = header
        self.source = source
        self.first_line = first_line
        self.lines = lines  # file line of each row when blank lines were skipped
        self.n = len(rows)
        width = len(header)
        if rows and set(map(len, rows)) == {width}:
            columns = list(zip(*rows, strict=True))
        else:
            columns = [[r[j] if j < len(r) else "" for r in rows] for j in range(width)]
        self.cells: dict[str, list[str]] = {
            name: list(col) for name, col in zip(header, columns, strict=False)
        }
        for name in header[len(columns) :]:
            self.cells[name] = []
        self._num: dict[str, tuple[np.ndarray, np.ndarray, int | None]] = {}

    def line_of(self, index: int) -> int:
        """The file line (1-based) of row ``index``, for error messages."""
        return self.lines[index] if self.lines is not None else self.first_line + index

    def numeric(self, name: str) -> tuple[np.ndarray, np.ndarray, int | None]:
        """(values with NaN where empty, present mask, index of the first non-numeric cell or None)."""
        if name not in self._num:
            col = self.cells[name]
            vals = np.full(self.n, np.nan)
            present = np.fromiter(map(bool, col), dtype=bool, count=self.n)
            filled = list(filter(None, col))
            bad = None
            try:  # fast path: every non-empty cell is a number ("nan" and "inf" included)
                vals[present] = np.fromiter(map(float, filled), dtype=np.float64, count=len(filled))
            except ValueError:
                present = np.zeros(self.n, dtype=bool)
                for i, cell in enumerate(col):
                    if not cell.strip():
                        continue
                    v = _to_float(cell.strip())
                    if v is None:
                        if bad is None:
                            bad = i
                        continue
                    vals[i] = v
                    present[i] = True
            self._num[name] = (vals, present, bad)
        return self._num[name]

    def bad_cell(self, name: str, index: int) -> CurveFormatError:
        """The ``CurveFormatError`` (returned, not raised) for a non-numeric cell.

        Args:
            name: the column.
            index: the row, 0-based; the message gives its file line.
        """
        cell = self.cells[name][index]
        return CurveFormatError(
            f"{self.source}: non-numeric value {cell[:40]!r} in column {name!r} at line"
            f" {self.line_of(index)}; fix or remove that row (numbers, 'nan', 'inf' or empty cells only)."
        )


def _clean(name: str) -> str:
    return " ".join(name.split())  # a quoted header cell may hold newlines; messages stay one line


def read_csv_text(text: str, source: Path) -> Table:
    """Parse CSV text (comma, tab or semicolon separated) into a ``Table``."""
    body = text.lstrip("\r\n\t ")
    if not body.strip():
        raise CurveFormatError(
            f"{source}: the file holds only blank lines; point at a non-empty curve log."
        )
    skipped = text[: len(text) - len(body)].count("\n")
    first = body.split("\n", 1)[0]
    delim = max((",", "\t", ";"), key=first.count)
    if first.count(delim) == 0:
        delim = ","
    try:
        all_rows = list(csv.reader(io.StringIO(body), delimiter=delim))
    except csv.Error as exc:
        raise CurveFormatError(
            f"{source}: not readable as CSV ({exc}); check the quoting and delimiters."
        ) from None
    header = [_clean(h) for h in all_rows[0]]
    rows = all_rows[1:]
    # Ultralytics pads cells with spaces; strip only when the file does (it is the slow part).
    if any(c != c.strip() for r in rows[:3] for c in r):
        rows = [[c.strip() for c in r] for r in rows]
    lines = None
    uniform = set(map(len, rows)) <= {len(header)}
    if not uniform and any(not any(r) for r in rows):
        lines = [skipped + 2 + i for i, r in enumerate(rows) if any(r)]
        rows = [r for r in rows if any(r)]
    if not any(header):
        raise CurveFormatError(
            f"{source}: the CSV header is empty; the first line must name the columns."
        )
    seen: dict[str, int] = {}
    for j, h in enumerate(header):  # duplicated or blank names get a unique name
        if not h:
            header[j] = h = f"column_{j + 1}"
        if h in seen:
            header[j] = f"{h}.{seen[h]}"
        seen[h] = seen.get(h, 0) + 1
    width = len(header)
    for i, r in enumerate([] if uniform else rows):
        if len(r) > width and any(r[width:]):
            line = lines[i] if lines is not None else skipped + 2 + i
            raise CurveFormatError(
                f"{source}: line {line} has {len(r)} fields but the header names {width} columns;"
                " fix that row or the header."
            )
    return Table(header, rows, source, first_line=skipped + 2, lines=lines)


def _find(header: list[str], names: tuple[str, ...]) -> str | None:
    for h in header:
        if h.lower() in names:
            return h
    return None


def table_format(header: list[str]) -> str:
    """Which logger wrote a CSV with this header."""
    lower = [h.lower() for h in header]
    if "epoch" in lower and "step" in lower:
        return "lightning"
    if any(h.startswith(("metrics/", "lr/pg")) for h in lower) and "epoch" in lower:
        return "ultralytics"
    if lower and lower[0] == "epoch" and "train_loss" in lower and "valid_loss" in lower:
        return "fastai"
    if (
        lower
        and lower[0] == "epoch"
        and ("loss" in lower or any(h.startswith("val_") for h in lower))
    ):
        return "keras-csv"
    return "csv"


def _metric_columns(table: Table, mapping: Mapping | None, skip: set[str]) -> list[str]:
    keys = {mapping.train_key, mapping.val_key, mapping.metric_key} if mapping else set()
    return [
        h for h in table.header if h not in skip and (h in keys or normalise_key(h) is not None)
    ]


def _check_numeric(table: Table, cols: list[str]) -> None:
    for c in cols:
        _vals, _present, bad = table.numeric(c)
        if bad is not None:
            raise table.bad_cell(c, bad)


def _per_epoch(epochs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Group points by epoch: one value per epoch, the mean where several were logged."""
    uniq, inverse, counts = np.unique(epochs, return_inverse=True, return_counts=True)
    if counts.max(initial=0) <= 1:
        return uniq, values[np.argsort(epochs, kind="stable")], False
    sums = np.bincount(inverse, weights=values, minlength=uniq.size)
    return uniq, sums / counts, True


def _lightning(table: Table, mapping: Mapping | None) -> list[RawRun]:
    source = table.source
    epoch_col = _find(table.header, ("epoch",))
    step_col = _find(table.header, ("step",))
    cols = _metric_columns(table, mapping, {epoch_col, step_col})
    _check_numeric(table, cols)
    ep, ep_present, bad = table.numeric(epoch_col)
    if bad is not None:
        raise table.bad_cell(epoch_col, bad)
    if not ep_present.any():
        raise CurveFormatError(
            f"{source}: the 'epoch' column is empty; this is not a usable Lightning metrics.csv."
        )
    # Rows written without an epoch belong to the epoch of the row before.
    idx = np.where(ep_present, np.arange(table.n), 0)
    np.maximum.accumulate(idx, out=idx)
    ep = ep[idx]
    notes: list[str] = []
    keep = np.ones(table.n, dtype=bool)

    parsed = {c: normalise_key(c) for c in cols}
    test_cols = [c for c in cols if parsed[c] and parsed[c][0] == "test"]
    val_cols = [c for c in cols if parsed[c] and parsed[c][0] == "val"]
    if test_cols:
        test_rows = np.zeros(table.n, dtype=bool)
        for c in test_cols:
            test_rows |= table.numeric(c)[1]
        test_epochs = np.unique(ep[test_rows])
        # A test pass after fit() writes rows at epoch last+1 with test_* and per-class columns.
        if val_cols or test_epochs.size <= 1:
            keep &= ~test_rows
            shown = ", ".join(f"{e:g}" for e in test_epochs)  # 3, 3.5, nan, inf
            notes.append(
                f"dropped {int(test_rows.sum())} test-only row(s) at epoch {shown} (a test pass, not validation)"
            )

    train_rows = np.zeros(table.n, dtype=bool)
    val_rows = np.zeros(table.n, dtype=bool)
    for c in cols:
        p = parsed[c]
        present = table.numeric(c)[1] & keep
        if p and p[0] == "train":
            train_rows |= present
        elif p and p[0] == "val":
            val_rows |= present
    if train_rows.any() and val_rows.any():
        last_train = ep[train_rows].max()
        extra = val_rows & (ep > last_train) & ~train_rows
        if extra.any():
            # trainer.validate() after fit() logs one more validation row past the last epoch.
            keep &= ~extra
            shown = ", ".join(str(int(e)) for e in np.unique(ep[extra]))
            notes.append(
                f"dropped the validation-only row(s) at epoch {shown} after the last training epoch"
                f" {int(last_train)} (a validate() call after fit)"
            )

    series: list[RawSeries] = []
    for c in cols:
        vals, present, _ = table.numeric(c)
        m = present & keep
        if not m.any():
            continue
        e, v, was_avg = _per_epoch(ep[m], vals[m])
        series.append(RawSeries(c, e, v, averaged=was_avg))
    run = RawRun(
        series=series, format="lightning", source=source, notes=notes, columns=list(table.header)
    )
    return [run]


def _run_bounds(epochs: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges of the runs in a file: a new run starts wherever the epoch does not increase."""
    if epochs.size == 0:
        return []
    restarts = np.flatnonzero(np.diff(epochs) <= 0) + 1
    edges = [0, *restarts.tolist(), epochs.size]
    return list(itertools.pairwise(edges))


def _coerce(cell: str) -> Any:
    v = _to_float(cell)
    if v is None:
        return cell
    return int(v) if v.is_integer() and re.fullmatch(r"[-+]?\d+", cell) else v


def _rows_per_epoch(table: Table, fmt: str, mapping: Mapping | None) -> list[RawRun]:
    source = table.source
    epoch_col = _find(table.header, _EPOCH_NAMES)
    step_col = _find(table.header, _STEP_NAMES)
    cols = _metric_columns(table, mapping, {epoch_col, step_col})
    _check_numeric(table, cols)
    notes: list[str] = []
    if epoch_col is not None:
        ep, present, bad = table.numeric(epoch_col)
        if bad is not None:
            raise table.bad_cell(epoch_col, bad)
        if not present.all():
            missing = int(np.flatnonzero(~present)[0])
            raise CurveFormatError(
                f"{source}: empty epoch cell at line {table.line_of(missing)}; fill it or remove the row."
            )
    else:
        ep = np.arange(table.n, dtype=np.float64)
        if table.n:
            notes.append("no epoch column: the row number is used as the epoch (0-based)")
    other = [h for h in table.header if h not in cols and h not in (epoch_col, step_col)]
    bounds = _run_bounds(ep)
    runs: list[RawRun] = []
    for i, (lo, hi) in enumerate(bounds):
        series = [RawSeries(c, ep[lo:hi].copy(), table.numeric(c)[0][lo:hi].copy()) for c in cols]
        hparams: dict[str, Any] = {}
        varying: list[str] = []
        for c in other:
            cells = table.cells[c][lo:hi]
            if len(set(cells)) == 1 and cells[0] != "" and not _BOOKKEEPING.match(c):
                hparams[c] = _coerce(cells[0])
            elif any(cells) and not _BOOKKEEPING.match(c):
                varying.append(c)
        run_notes = list(notes)
        if varying:
            run_notes.append(f"ignored columns {', '.join(varying)} (not recognised as metrics)")
        label = None
        if len(bounds) > 1:
            label = f"run {i + 1} of {len(bounds)}"
            run_notes.append(
                f"the file holds {len(bounds)} runs (the epoch goes back to {ep[bounds[1][0]]:g} at line"
                f" {table.line_of(bounds[1][0])}); this is {label}"
            )
        if fmt == "ultralytics" and hi > lo and ep[lo] == 1:
            run_notes.append("epochs are 1-based as Ultralytics logs them")
        forced: dict[str, tuple[str, str]] = {}
        if fmt == "fastai":
            # fastai's Recorder computes every metric on the validation set and writes it unprefixed.
            for c in cols:
                parsed = normalise_key(c)
                if parsed and parsed[0] == "train" and not c.lower().startswith("train"):
                    forced[c] = ("val", parsed[1])
            if forced:
                run_notes.append(
                    f"fastai metrics {', '.join(forced)} are computed on the validation set"
                )
        runs.append(
            RawRun(
                series=series,
                format=fmt,
                source=source,
                run=label,
                notes=run_notes,
                hparams=hparams,
                forced=forced,
                columns=list(table.header),
            )
        )
    if not runs:
        raise CurveFormatError(
            f"{source}: the CSV has a header ({', '.join(table.header)}) but no data rows; train at"
            " least one epoch before reading it."
        )
    return runs


def parse_table(
    table: Table, *, mapping: Mapping | None = None, fmt: str | None = None
) -> list[RawRun]:
    """Raw runs from a parsed table; the layout is detected from the header unless ``fmt`` is given."""
    fmt = fmt or table_format(table.header)
    if table.n == 0:
        raise CurveFormatError(
            f"{table.source}: the CSV has a header ({', '.join(table.header)[:200]}) but no data rows;"
            " train at least one epoch before reading it."
        )
    if fmt == "lightning":
        return _lightning(table, mapping)
    return _rows_per_epoch(table, fmt, mapping)


def table_runs(text: str, source: Path, *, mapping: Mapping | None = None) -> list[RawRun]:
    """Read CSV text into raw runs.

    A header byte that was not UTF-8 (``decode_log`` keeps it as a lone surrogate) is an error
    naming the expected encoding: a mangled "??epoch" column would otherwise be
    dropped and the epochs lost. Undecodable bytes elsewhere become U+FFFD.
    """
    from advisor.curves._readers_text import replace_undecodable, undecodable_message

    header = text.lstrip("\r\n\t ").split("\n", 1)[0]
    problem = undecodable_message(header, source, "CSV header")
    if problem:
        raise CurveFormatError(problem)
    return parse_table(read_csv_text(replace_undecodable(text), source), mapping=mapping)
