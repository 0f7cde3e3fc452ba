"""Sequence-to-sequence toy tasks on digit strings, generated on the fly (nothing to download), seeded:
addition ("535+61" -> "596", as in the Keras addition example after Zaremba & Sutskever 2014, "Learning to
Execute") and reversal ("123" -> "321").

Token ids: 0 <pad>, 1 <start>, 2 <end>, 3..12 the digits 0..9, 13 "+". A task holds sources (N, S) right-padded
with <pad>, and targets (N, T) written as `lstmkit.Seq2Seq` reads them: the output tokens, <end>, then <pad>
(<start> is not written; the model prepends it).
"""

from dataclasses import dataclass

import numpy as np

PAD, START, END = 0, 1, 2
VOCAB = ("<pad>", "<start>", "<end>", *"0123456789", "+")
VOCAB_SIZE = len(VOCAB)
_ID = {ch: i for i, ch in enumerate(VOCAB)}


@dataclass(frozen=True)
class DigitTask:
    """Source and target token ids with their strings; `task[:100]` or `task[indices]` is a subset."""
    src: np.ndarray          # (N, S) int64
    tgt: np.ndarray          # (N, T) int64, tokens then END then PAD
    src_text: list
    tgt_text: list

    def __len__(self):
        return len(self.src)

    def __getitem__(self, index):
        idx = np.atleast_1d(np.arange(len(self.src))[index])
        return DigitTask(self.src[idx], self.tgt[idx], [self.src_text[i] for i in idx],
                         [self.tgt_text[i] for i in idx])


def encode(texts, length, end=False):
    """Token ids (N, length) of strings over "0123456789+", right-padded with PAD; with `end`, END follows each."""
    ids = np.full((len(texts), length), PAD, np.int64)
    for row, text in enumerate(texts):
        tokens = [_ID[ch] for ch in text] + ([END] if end else [])
        if len(tokens) > length:
            raise ValueError(f"{text!r} needs {len(tokens)} tokens, more than length={length}.")
        ids[row, :len(tokens)] = tokens
    return ids


def decode(ids):
    """Strings from token ids (N, L): digits and "+", stopping at END, skipping PAD and START."""
    texts = []
    for row in np.asarray(ids):
        chars = []
        for i in row:
            if i == END:
                break
            if 3 <= i < VOCAB_SIZE:
                chars.append(VOCAB[i])
        texts.append("".join(chars))
    return texts


def _check(n, name, low=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {n!r}.")
    return int(n)


def _unique(draw, n, rng, limit):
    """`n` distinct items from `draw(rng)`; a clear error when the task has fewer than `n`."""
    if n > limit:
        raise ValueError(f"asked for {n} distinct examples, but this task has only {limit}; ask for fewer or use "
                         f"more digits.")
    seen, items = set(), []
    while len(items) < n:
        item = draw(rng)
        if item not in seen:
            seen.add(item)
            items.append(item)
    return items


def _number(rng, digits):
    """A number with 1..digits digits, its length drawn uniformly first (so short numbers are not rare)."""
    k = int(rng.integers(1, digits + 1))
    return int(rng.integers(0, 10)) if k == 1 else int(rng.integers(10 ** (k - 1), 10 ** k))


def addition(n, digits=3, seed=0):
    """`n` distinct problems "a+b" -> "a + b" with operands of 1..`digits` digits. Sources have length
    2 * digits + 1, targets digits + 2 (the sum has at most digits + 1 digits, then END)."""
    n, digits = _check(n, "n"), _check(digits, "digits")
    limit = (10 + sum(9 * 10 ** (k - 1) for k in range(2, digits + 1))) ** 2
    pairs = _unique(lambda rng: (_number(rng, digits), _number(rng, digits)), n, np.random.default_rng(seed), limit)
    src_text = [f"{a}+{b}" for a, b in pairs]
    tgt_text = [str(a + b) for a, b in pairs]
    return DigitTask(encode(src_text, 2 * digits + 1), encode(tgt_text, digits + 2, end=True), src_text, tgt_text)


def reversal(n, length=3, seed=0):
    """`n` distinct digit strings of exactly `length` digits -> the same digits reversed."""
    n, length = _check(n, "n"), _check(length, "length")
    strings = _unique(lambda rng: "".join(map(str, rng.integers(0, 10, length))), n, np.random.default_rng(seed),
                      10 ** length)
    return DigitTask(encode(strings, length), encode([s[::-1] for s in strings], length + 1, end=True), strings,
                     [s[::-1] for s in strings])


def split(task, n_test, seed=0):
    """(train, test): `n_test` examples held out at random; the examples of a task are distinct, so no test
    problem is seen in training."""
    n_test = _check(n_test, "n_test")
    if n_test >= len(task):
        raise ValueError(f"n_test={n_test} leaves no training examples out of {len(task)}.")
    order = np.random.default_rng(seed).permutation(len(task))
    return task[order[n_test:]], task[order[:n_test]]
