"""Loss curves: one CSV row per logged step (resume-safe) and a matplotlib plot of the curves."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

from motionkit.io.files import atomic_path

STEP_COLUMN = "step"


class MetricsLog:
    """``metrics.csv``: a ``step`` column then one column per metric name, values written with full precision.

    Rows are appended as they are logged. On resume, :meth:`truncate_after` drops rows a crashed run wrote after
    its last checkpoint (and any half-written line), so the file never holds a duplicated or a missing step.
    A metric that appears for the first time extends the header (the file is rewritten atomically); a metric
    absent from a row is left empty.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._columns: list[str] = self._read_header()

    def _read_header(self) -> list[str]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        return header if header[:1] == [STEP_COLUMN] else []

    def rows(self) -> list[dict[str, float]]:
        """Complete rows as ``{column: value}`` (empty cells omitted), in file order."""
        if not self.path.is_file():
            return []
        result = []
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            for cells in reader:
                if len(cells) != len(header):
                    continue  # a line cut short by a crash
                try:
                    row = {name: float(cell) for name, cell in zip(header, cells) if cell != ""}
                except ValueError:
                    continue
                if STEP_COLUMN in row:
                    result.append(row)
        return result

    def _rewrite(self, columns: list[str], rows: list[dict[str, float]]) -> None:
        with atomic_path(self.path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_format(row.get(name)) for name in columns])
        self._columns = columns

    def truncate_after(self, step: int) -> None:
        """Keep only rows with ``step <= step`` (``step = 0`` empties the log for a fresh run)."""
        if not self.path.is_file():
            return
        kept = [row for row in self.rows() if row[STEP_COLUMN] <= step]
        self._rewrite(self._columns or [STEP_COLUMN], kept)

    def append(self, step: int, values: Mapping[str, float]) -> None:
        """Add the row of ``step``."""
        new = sorted(set(values) - set(self._columns))
        if new or not self._columns:
            columns = (self._columns or [STEP_COLUMN]) + new
            self._rewrite(columns, self.rows())
        row = {STEP_COLUMN: float(step), **values}
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow([_format(row.get(name)) for name in self._columns])


def _format(value: float | None) -> str:
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def plot_metrics(csv_path: str | Path, png_path: str | Path, *, title: str = "training") -> Path:
    """Draw every column of a metrics CSV against the step into a PNG (written atomically).

    Losses (``loss/*`` and task parts) share the top panel, on a log scale when all values are positive;
    ``lr/*`` and ``grad_norm/*`` get panels of their own.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = MetricsLog(csv_path).rows()
    names = sorted({name for row in rows for name in row} - {STEP_COLUMN})
    groups = {
        "loss": [n for n in names if not n.startswith(("lr/", "grad_norm/"))],
        "learning rate": [n for n in names if n.startswith("lr/")],
        "gradient norm": [n for n in names if n.startswith("grad_norm/")],
    }
    panels = [(label, members) for label, members in groups.items() if members] or [("loss", [])]
    figure = Figure(figsize=(8, 3 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (label, members) in zip(axes, panels):
        positive = True
        for name in members:
            points = [(row[STEP_COLUMN], row[name]) for row in rows if name in row and math.isfinite(row[name])]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=name, linewidth=1)
                positive = positive and min(values) > 0
        if members and positive:
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if members:
            ax.legend(fontsize="small", loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xlabel("step")
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        figure.savefig(tmp, dpi=100)
    return png_path
