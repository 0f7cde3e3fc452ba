"""Terminal output with rich: the per-epoch progress bar of `fit` and the tables of `summary` and the CLI."""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _format(logs):
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items())


class EpochProgress:
    """One progress bar per epoch, advanced per batch with the running loss; a summary line per finished epoch.
    Disabled (silent) when `enabled` is False."""

    def __init__(self, epochs, batches, enabled=True, console=None):
        self.epochs, self.batches, self.enabled = epochs, batches, enabled
        self.console = console or Console(stderr=True)
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("{task.fields[logs]}"),
                                      console=self.console, transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def start_epoch(self, epoch):
        if self._progress is not None:
            self._epoch = epoch
            self._task = self._progress.add_task(f"epoch {epoch + 1}/{self.epochs}", total=self.batches, logs="")

    def advance(self, **logs):
        if self._progress is not None:
            self._progress.update(self._task, advance=1, logs=_format(logs))

    def end_epoch(self, logs):
        if self._progress is not None:
            self._progress.remove_task(self._task)
            self._progress.console.print(f"epoch {self._epoch + 1}/{self.epochs}  {_format(logs)}")


def render_table(title, columns, rows, print_fn=None):
    """Print a table (to the terminal, or through `print_fn`) and return it as plain text."""
    table = Table(title=title)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*map(str, row))
    console = Console(width=100, record=True, file=open("/dev/null", "w") if print_fn else None)
    console.print(table)
    text = console.export_text()
    if print_fn is not None:
        print_fn(text)
    return text
