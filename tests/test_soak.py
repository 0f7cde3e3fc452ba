"""Soak test, outside the default run (`pytest -m soak`): 10,000 training steps of a small LSTM with a checkpoint
every 100 steps, checking that the process memory does not grow and that the run ends resumable."""

import os

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.formats import checkpoint as ckpt

pytestmark = pytest.mark.soak

STEPS, EVERY, BATCH, BATCHES_PER_EPOCH = 10_000, 100, 16, 10


def rss_mib():
    """Resident memory of this process (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class MemoryProbe(lk.losses.MSE):
    """MSE that records the process memory every `EVERY` training steps."""

    def __init__(self):
        self.steps, self.samples = 0, []

    def value_and_grad(self, y_pred, y_true):
        self.steps += 1
        if self.steps % EVERY == 0:
            self.samples.append((self.steps, rss_mib()))
        return super().value_and_grad(y_pred, y_true)


@pytest.fixture(autouse=True)
def only_when_asked(request):
    if "soak" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("soak test: run it with `pytest -m soak`")
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc to read the memory of the process")


def test_ten_thousand_steps_with_checkpoints_keep_memory_flat(tmp_path):
    rng = np.random.default_rng(0)
    n = BATCH * BATCHES_PER_EPOCH
    t = rng.uniform(0, 2 * np.pi, (n + 40, 1)) + np.arange(12) * 0.3           # (n+40, 12) phases
    series = np.sin(t) + 0.05 * rng.standard_normal(t.shape)
    x, y = series[:, :-1, None], series[:, -1:]                                # (., 11, 1), (., 1)
    probe = MemoryProbe()
    model = lk.Sequential([lk.layers.LSTM(16, dropout=0.0), lk.layers.Dropout(0.1), lk.layers.Dense(1)], seed=0)
    model.compile(loss=probe, optimizer=lk.optim.Adam(lr=3e-3, clipnorm=1.0))
    epochs = STEPS // BATCHES_PER_EPOCH
    history = model.fit(x[:n], y[:n], epochs=epochs, batch_size=BATCH, validation_data=(x[n:], y[n:]),
                        early_stopping=lk.EarlyStopping(patience=epochs), verbose=0, checkpoint=tmp_path,
                        checkpoint_every=EVERY // BATCHES_PER_EPOCH)
    assert probe.steps == STEPS and len(history.epoch) == epochs
    assert history.history["val_loss"][-1] < 0.1 * history.history["val_loss"][0]

    memory = dict(probe.samples)
    warm, end = memory[1000], memory[STEPS]
    growth = end - warm
    print(f"\nRSS at step 100: {memory[100]:.1f} MiB, step 1000: {warm:.1f} MiB, step {STEPS}: {end:.1f} MiB "
          f"(growth after warm-up {growth:+.2f} MiB), peak {max(memory.values()):.1f} MiB")
    assert growth < 5.0, probe.samples

    assert sorted(os.listdir(tmp_path)) == [ckpt.FILENAME]                      # one file, no temporaries left
    _, body, _ = ckpt.read_checkpoint(tmp_path)
    assert body["position"]["epoch"] == epochs and body["optimizer"]["step"] == STEPS
    again = lk.Sequential([lk.layers.LSTM(16), lk.layers.Dropout(0.1), lk.layers.Dense(1)], seed=0)
    again.compile(optimizer=lk.optim.Adam(lr=3e-3, clipnorm=1.0))
    resumed = again.fit(x[:n], y[:n], epochs=epochs, batch_size=BATCH, validation_data=(x[n:], y[n:]),
                        early_stopping=lk.EarlyStopping(patience=epochs), verbose=0, checkpoint=tmp_path, resume=True)
    assert resumed.history == history.history
    for key, p in model.parameters().items():
        np.testing.assert_array_equal(p, again.parameters()[key])
