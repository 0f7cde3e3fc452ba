"""Long-time-lag experiments: the adding problem, temporal order, copy memory and the embedded Reber grammar,
generated from a seed, and the grid runner that trains RNN, LSTM and GRU on them over sequence lengths and seeds
(in local worker processes or on a Dask cluster). See `tasks` and `runner`."""

from .runner import CELLS, RunConfig, build_model, run_grid, run_one, summarize, untrained_gradient_norms, write_results
from .tasks import GENERATORS, TASKS, Task, TaskData, adding, copy_memory, generate, get_task, reber, temporal_order

__all__ = ["CELLS", "GENERATORS", "TASKS", "RunConfig", "Task", "TaskData", "adding", "build_model", "copy_memory",
           "generate", "get_task", "reber", "run_grid", "run_one", "summarize", "temporal_order",
           "untrained_gradient_norms", "write_results"]
