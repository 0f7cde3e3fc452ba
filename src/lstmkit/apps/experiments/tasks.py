"""The long-time-lag tasks of the recurrent-network literature, generated on the fly from a seed (no download):
the adding problem (Hochreiter & Schmidhuber 1997; the form of Le, Jaitly & Hinton 2015), temporal order
(Hochreiter & Schmidhuber 1997, experiment 6a), copy memory (Arjovsky, Shah & Bengio 2016) and the embedded Reber
grammar (Hochreiter & Schmidhuber 1997, experiment 1; Reber 1967).

Each generator is called `generator(n, length, seed)` and returns `TaskData(x, y, task)`: `n` input sequences
`x` (n, T, F) float32 (one-hot symbols, or real values for the adding problem), their targets `y`, and the
`Task` that says how to learn and judge them: the lstmkit loss name, the output size of the read-out, whether
there is one output per step, the test metric with its `score(y_pred, y)` function, the `solved(value)`
criterion and the trivial baseline (the best value reachable without remembering the long-lag information).
`seed` is an int or a `numpy.random.Generator` (then it is used and advanced): the same seed gives the same data.

Dimension letters: N sequences, T steps, F input features (symbols), C output units.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ...training.metrics import accuracy, mse


@dataclass(frozen=True)
class Task:
    """How a task is learnt and judged. `solved(value)`: the test metric meets `threshold` (at most it when
    lower is better, at least it otherwise)."""
    name: str
    loss: str                    # lstmkit loss name, applied to the read-out (logits for the classifications)
    output_size: int             # C, units of the Dense read-out
    sequence_output: bool        # True: a target at every step, the recurrent layer returns sequences
    metric: str                  # name of the test metric
    score: Callable              # score(y_pred, y) -> float, the test metric
    threshold: float             # solved at this metric value
    higher_is_better: bool
    baseline: float              # metric of the best predictor without long-term memory
    baseline_note: str
    min_length: int              # shortest `length` the generator accepts
    default_lengths: tuple       # the lengths `lstmkit experiment TASK` tries when none are given
    length_note: str             # what `length` means for this task

    def solved(self, value):
        """True when the test metric `value` meets the task's criterion (NaN never does)."""
        value = float(value)
        return value >= self.threshold if self.higher_is_better else value < self.threshold


class TaskData(NamedTuple):
    x: np.ndarray                # (N, T, F) float32
    y: np.ndarray                # targets, shaped for task.loss
    task: Task


def _rng(seed):
    return np.random.default_rng(seed)


def _check(name, n, length, min_length):
    for arg, value, least in (("n", n, 1), ("length", length, min_length)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name}: {arg} must be an integer >= {least}, got {value!r}.")


def _one_hot(ids, depth):
    """ids (N, T) int -> (N, T, depth) float32; ids < 0 give all-zero rows (padding)."""
    out = np.zeros(ids.shape + (depth,), np.float32)
    valid = ids >= 0
    out[valid, ids[valid]] = 1.0
    return out


# ---- the adding problem -------------------------------------------------------------------------------------------
def adding(n, length, seed=None):
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4), in the form of Le et al. (2015) and
    Arjovsky et al. (2016).

    x (N, T, 2): channel 0 holds T values drawn uniformly from [0, 1]; channel 1 is a marker, 0 everywhere except
    1 at two positions, the first drawn uniformly from the first half [0, T//2) and the second from the second
    half [T//2, T). y (N, 1): the sum of the two marked values. Loss MSE, metric test MSE, solved below 0.01.
    Baseline: always predicting the mean sum 1.0 gives MSE Var(u1 + u2) = 2/12 = 0.167.
    """
    _check("adding", n, length, ADDING.min_length)
    rng = _rng(seed)
    x = np.zeros((n, length, 2), np.float32)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (n, length))
    half = length // 2
    first = rng.integers(0, half, n)                        # (N,)
    second = rng.integers(half, length, n)                  # (N,)
    rows = np.arange(n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None]   # (N, 1)
    return TaskData(x, y, ADDING)


ADDING = Task(
    name="adding", loss="mse", output_size=1, sequence_output=False, metric="test MSE", score=mse,
    threshold=0.01, higher_is_better=False, baseline=1.0 / 6.0,
    baseline_note="always predict the mean sum 1.0: MSE = Var(u1 + u2) = 1/6",
    min_length=2, default_lengths=(10, 50, 100),
    length_note="sequence length T; the markers lie in the first and the second half")


# ---- temporal order ---------------------------------------------------------------------------------------------
ORDER_SYMBOLS = "abcdXYBE"          # a-d distractors, X/Y the relevant symbols, B the trigger, E the start


def temporal_order(n, length, seed=None):
    """Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a): classify the order of two relevant symbols.

    A sequence of T symbols from ORDER_SYMBOLS = a b c d X Y B E (one-hot, F = 8) starts with E, ends with the
    trigger B, and is otherwise made of distractors drawn uniformly from {a, b, c, d}, except at t1, drawn
    uniformly from [round(T/10), round(T/5)], and t2, drawn uniformly from [round(T/2), round(3T/5)] (steps
    counted from 0), which each hold X or Y with probability 1/2. y (N,) is the class of the pair:
    XX -> 0, XY -> 1, YX -> 2, YY -> 3 (the paper's Q, R, S, U). Loss softmax cross-entropy on the last step,
    metric test accuracy, solved at 99% or more; baseline 25% (chance).

    Departure from the paper: its lengths are drawn from [100, 110] with t1 in [10, 20] and t2 in [50, 60]; here
    every sequence of a batch has the given length T, and the relevant positions scale with it (T = 100 gives the
    paper's positions).
    """
    _check("temporal-order", n, length, TEMPORAL_ORDER.min_length)
    rng = _rng(seed)
    ids = rng.integers(0, 4, (n, length))                   # (N, T) distractors a-d
    ids[:, 0] = ORDER_SYMBOLS.index("E")
    ids[:, -1] = ORDER_SYMBOLS.index("B")
    t1 = rng.integers(round(length / 10), round(length / 5) + 1, n)
    t2 = rng.integers(round(length / 2), round(3 * length / 5) + 1, n)
    first, second = rng.integers(0, 2, n), rng.integers(0, 2, n)   # 0 = X, 1 = Y
    rows = np.arange(n)
    ids[rows, t1] = ORDER_SYMBOLS.index("X") + first
    ids[rows, t2] = ORDER_SYMBOLS.index("X") + second
    y = (2 * first + second).astype(np.int64)               # (N,) XX 0, XY 1, YX 2, YY 3
    return TaskData(_one_hot(ids, len(ORDER_SYMBOLS)), y, TEMPORAL_ORDER)


TEMPORAL_ORDER = Task(
    name="temporal-order", loss="sparse_categorical_crossentropy", output_size=4, sequence_output=False,
    metric="test accuracy", score=accuracy, threshold=0.99, higher_is_better=True, baseline=0.25,
    baseline_note="guessing one of the 4 classes", min_length=10, default_lengths=(10, 50, 100),
    length_note="sequence length T; X/Y at t1 in [T/10, T/5] and t2 in [T/2, 3T/5]")


# ---- copy memory ------------------------------------------------------------------------------------------------
COPY_SYMBOLS = 8                     # data symbols 1..8; 0 is the blank, 9 the delimiter
COPY_MEMORY = 10                     # how many symbols are copied


def copy_recall_accuracy(y_pred, y):
    """Per-symbol accuracy on the last COPY_MEMORY steps (the recalled part) of logits y_pred (N, T+20, C)."""
    return accuracy(y_pred[:, -COPY_MEMORY:], y[:, -COPY_MEMORY:])


def copy_memory(n, length, seed=None):
    """The copy-memory task (Hochreiter & Schmidhuber 1997; in the form of Arjovsky, Shah & Bengio 2016).

    With lag T = `length`, each sequence has T + 20 steps over 10 symbols (one-hot, F = 10): 10 data symbols
    drawn uniformly from 1..8, then T - 1 blanks (0), the delimiter 9, and 10 more blanks. The target y
    (N, T + 20) is blank for the first T + 10 steps and the 10 data symbols, in order, for the last 10. Loss
    softmax cross-entropy at every step (C = 9 outputs: blank and the 8 data symbols), metric the per-symbol
    accuracy on the last 10 steps, solved at 99% or more. Baseline: without memory a network can only guess the
    data symbols, 1/8 = 12.5% (cross-entropy 10 log(8) / (T + 20), the plateau of Arjovsky et al.).
    """
    _check("copy", n, length, COPY.min_length)
    rng = _rng(seed)
    M = COPY_MEMORY
    data = rng.integers(1, COPY_SYMBOLS + 1, (n, M))        # (N, 10)
    ids = np.zeros((n, length + 2 * M), np.int64)           # (N, T+20)
    ids[:, :M] = data
    ids[:, M + length - 1] = COPY_SYMBOLS + 1               # delimiter after T - 1 blanks
    y = np.zeros_like(ids)
    y[:, -M:] = data
    return TaskData(_one_hot(ids, COPY_SYMBOLS + 2), y, COPY)


COPY = Task(
    name="copy", loss="sparse_categorical_crossentropy", output_size=COPY_SYMBOLS + 1, sequence_output=True,
    metric="recall accuracy", score=copy_recall_accuracy, threshold=0.99, higher_is_better=True,
    baseline=1.0 / COPY_SYMBOLS, baseline_note="guessing the 8 data symbols", min_length=1,
    default_lengths=(10, 20, 50), length_note="lag T between the data and the delimiter; sequences have T + 20 steps")


# ---- embedded Reber grammar -------------------------------------------------------------------------------------
REBER_SYMBOLS = "BTPSXVE"
REBER_GRAPH = {                     # Reber's finite-state grammar: node -> ((symbol, next node), ...)
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", 5)),
    4: (("P", 3), ("V", 5)),
    5: (("E", None),),
}


def embedded_reber_string(rng):
    """One embedded Reber string and, per symbol, the set of symbols that may legally follow it.

    B, then T or P (probability 1/2 each), then a Reber string (B, a walk through REBER_GRAPH from node 0 taking
    each outgoing edge with probability 1/2, E), then the same T or P again, then E. Returns (string, successors)
    where successors[t] is the set of legal symbols after string[:t + 1] (empty after the final E).
    """
    branch = "TP"[rng.integers(2)]
    string, successors = ["B", branch, "B"], [{"T", "P"}, {"B"}, {"T", "P"}]
    node = 0
    while node is not None:
        edges = REBER_GRAPH[node]
        symbol, node = edges[rng.integers(len(edges))]
        string.append(symbol)
        successors.append({s for s, _ in REBER_GRAPH[node]} if node is not None else {branch})
    string += [branch, "E"]
    successors += [{"E"}, set()]
    return "".join(string), successors


def reber_strings_predicted(y_pred, y):
    """Fraction of strings predicted at every step: where a successor exists (y has a 1), the outputs with a
    positive logit (sigmoid above 0.5) are exactly the legal successors. y_pred are logits (N, T, 7)."""
    y = np.asarray(y)
    real = y.any(axis=-1)                                   # (N, T) steps with a legal successor
    right = ((np.asarray(y_pred) > 0) == (y > 0.5)).all(axis=-1) | ~real
    return float(np.mean(right.all(axis=-1)))


def reber(n, length, seed=None):
    """Embedded Reber grammar, next-symbol prediction (Hochreiter & Schmidhuber 1997, experiment 1).

    Strings come from `embedded_reber_string`; a string longer than `length` is drawn again, so every string fits
    in T = `length` steps. x (N, T, 7): the string one-hot over REBER_SYMBOLS = B T P S X V E, zero rows after its
    end. y (N, T, 7): at step t the legal successors of the string so far (multi-hot; all zero at the final E and
    after it). Loss binary cross-entropy from logits at every step (the padded steps included: predicting nothing
    after the end is learnt at once), metric the fraction of strings predicted at every step
    (`reber_strings_predicted`), solved when all test strings are. Baseline 50%: a predictor that knows the
    grammar but has forgotten the second symbol guesses the second-last one.

    The long lag is between the second symbol and the second-last one. Departure from the paper: its training and
    test sets were fixed sets of strings; here every batch is fresh, and strings longer than T are redrawn.
    """
    _check("reber", n, length, REBER.min_length)
    rng = _rng(seed)
    ids = np.full((n, length), -1, np.int64)                # -1: padding
    y = np.zeros((n, length, len(REBER_SYMBOLS)), np.float32)
    for i in range(n):
        string, successors = embedded_reber_string(rng)
        while len(string) > length:
            string, successors = embedded_reber_string(rng)
        ids[i, :len(string)] = [REBER_SYMBOLS.index(s) for s in string]
        for t, legal in enumerate(successors):
            y[i, t, [REBER_SYMBOLS.index(s) for s in legal]] = 1.0
    return TaskData(_one_hot(ids, len(REBER_SYMBOLS)), y, REBER)


REBER = Task(
    name="reber", loss="binary_crossentropy", output_size=len(REBER_SYMBOLS), sequence_output=True,
    metric="strings predicted", score=reber_strings_predicted, threshold=1.0, higher_is_better=True,
    baseline=0.5, baseline_note="the grammar without the second symbol: guess the second-last one",
    min_length=9, default_lengths=(12, 20, 40),
    length_note="padded length T: strings of at most T symbols (the shortest embedded string has 9)")


GENERATORS = {"adding": adding, "temporal-order": temporal_order, "copy": copy_memory, "reber": reber}
TASKS = {"adding": ADDING, "temporal-order": TEMPORAL_ORDER, "copy": COPY, "reber": REBER}


def get_task(name):
    """The Task called `name`, with an error listing the known names."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; the tasks are {', '.join(TASKS)}.")
    return TASKS[name]


def generate(name, n, length, seed=None):
    """`GENERATORS[name](n, length, seed)`: TaskData(x, y, task)."""
    get_task(name)
    return GENERATORS[name](n, length, seed)
