"""Terminal output with rich: the per-epoch progress bar of `fit` and the tables of `summary` and the CLI."""

import io

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _format(logs):
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items())


class EpochProgress:
    """One bar over the whole fit, advanced per batch: it shows the epoch, the running training loss and the
    logs (loss, metrics, validation values) of the last finished epoch. Silent when `enabled` is False."""

    def __init__(self, epochs, batches, enabled=True, console=None):
        self.epochs, self.batches, self.enabled = epochs, batches, enabled
        self.console = console or Console(stderr=True)
        self._progress = None
        self._task = None
        self._last = ""

    def __enter__(self):
        if self.enabled:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                      TextColumn("{task.fields[logs]}"), console=self.console)
            self._progress.__enter__()
            self._task = self._progress.add_task("epoch", total=self.epochs * self.batches, logs="")
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def start_epoch(self, epoch):
        if self._progress is not None:
            self._progress.update(self._task, description=f"epoch {epoch + 1}/{self.epochs}")

    def advance(self, loss):
        if self._progress is not None:
            self._progress.update(self._task, advance=1, logs=f"loss {loss:.4g}  {self._last}")

    def end_epoch(self, logs):
        if self._progress is not None:
            self._last = "| " + _format(logs)
            self._progress.update(self._task, logs=self._last)


class CaseProgress:
    """One bar over `total` named cases (a benchmark's timed cases, an ensemble's models): `case(label)` starts the
    next one, `finished(label)` counts one done, and the label is shown. Silent when `enabled` is False."""

    def __init__(self, total, title, enabled=True, console=None):
        self.total, self.title, self.enabled = total, title, enabled
        self.console = console or Console(stderr=True)
        self._progress = None
        self._task = None
        self._started = 0

    def __enter__(self):
        if self.enabled:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                                      "{task.total}"), TimeElapsedColumn(), TextColumn("{task.fields[label]}"),
                                      console=self.console)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.title, total=self.total, label="")
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.update(self._task, completed=self._started, label="")
            self._progress.__exit__(*exc)
        return False

    def case(self, label):
        """The next case starts (those before it are done)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=self._started, label=label)
        self._started += 1

    def finished(self, label):
        """One more case is done (for cases that run at once, in whatever order they end)."""
        self._started += 1
        if self._progress is not None:
            self._progress.update(self._task, completed=self._started, label=label)


def render_table(title, columns, rows, print_fn=None):
    """Print a table (to the terminal, or through `print_fn`) and return it as plain text."""
    table = Table(title=escape(title))
    for i, name in enumerate(columns):
        table.add_column(escape(name), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    console = Console(width=120, record=True, file=io.StringIO() if print_fn else None)
    console.print(table)
    text = console.export_text()
    if print_fn is not None:
        print_fn(text)
    return text
