"""Training a style from (dry, wet, knob values) examples, with a held-out validation set.

Loss and reported quality are the error-to-signal ratio, as in Neural Amp Modeler:
ESR = mean((y_hat - y)^2) / mean(y^2). Training draws random segments; the first
``warmup`` frames of each segment only settle the model's state and are not scored.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Example:
    """One aligned recording pair at one knob setting: ``dry``/``wet`` [frames], ``params`` [P]."""

    dry: np.ndarray
    wet: np.ndarray
    params: tuple[float, ...] = ()


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1500
    batch: int = 16
    segment: int = 8192
    warmup: int = 2048
    learning_rate: float = 4e-3
    validate_every: int = 100
    seed: int = 0
    threads: int = 2


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_esr: list[float] = field(default_factory=list)  # the validation metric (ESR, or another lower-is-better score)
    best_val_esr: float = math.inf
    seconds: float = 0.0


Progress = Callable[[int, int, float, float], None]  # step, steps, loss, best val ESR


def esr_sums(model: nn.Module, examples: Sequence[Example], chunk: int = 480000) -> tuple[float, float]:
    """(sum of squared error, sum of squared target) of the model over whole examples."""
    error = energy = 0.0
    model.eval()
    with torch.no_grad():
        for example in examples:
            params = torch.tensor([example.params], dtype=torch.float32)
            states = model.initial_state(1)
            for start in range(0, len(example.dry), chunk):  # stream: long files, bounded memory
                dry = torch.from_numpy(np.ascontiguousarray(example.dry[start : start + chunk]))[None, None]
                out, *states = model.step(dry, params, *states)
                target = example.wet[start : start + chunk].astype(np.float64)
                error += float(((out[0, 0].double().numpy() - target) ** 2).sum())
                energy += float((target**2).sum())
    return error, energy


def evaluate_esr(model: nn.Module, examples: Sequence[Example]) -> float:
    error, energy = esr_sums(model, examples)
    return error / max(energy, 1e-12)


def _batch(examples: Sequence[Example], config: TrainConfig, rng: np.random.Generator):
    total = config.segment + config.warmup
    weights = np.array([len(e.dry) for e in examples], np.float64)
    picks = rng.choice(len(examples), size=config.batch, p=weights / weights.sum())
    dry = np.zeros((config.batch, 1, total), np.float32)
    wet = np.zeros((config.batch, 1, total), np.float32)
    params = np.zeros((config.batch, len(examples[0].params)), np.float32)
    for row, index in enumerate(picks):
        example = examples[index]
        start = int(rng.integers(0, max(1, len(example.dry) - total)))
        piece = slice(start, start + total)
        dry[row, 0, : len(example.dry[piece])] = example.dry[piece]
        wet[row, 0, : len(example.wet[piece])] = example.wet[piece]
        params[row] = example.params
    return torch.from_numpy(dry), torch.from_numpy(wet), torch.from_numpy(params)


def train(
    model: nn.Module,
    train_set: Sequence[Example],
    val_set: Sequence[Example],
    config: TrainConfig,
    progress: Progress | None = None,
) -> History:
    """Train in place; at the end the model holds the weights with the best validation ESR."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)

    def segment_loss() -> torch.Tensor:
        dry, wet, params = _batch(train_set, config, rng)
        out = model(dry, params)
        scored = slice(config.warmup, None)
        error = ((out[..., scored] - wet[..., scored]) ** 2).sum()
        return error / (wet[..., scored] ** 2).sum().clamp_min(1e-8)

    return optimise(model, config.steps, config.learning_rate, segment_loss,
                    lambda: evaluate_esr(model, val_set), config.validate_every, progress)


def optimise(
    model: nn.Module,
    steps: int,
    learning_rate: float,
    batch_loss: Callable[[], torch.Tensor],
    validation: Callable[[], float] | None,
    validate_every: int,
    progress: Progress | None = None,
) -> History:
    """Adam with a one-cycle schedule over ``steps`` calls of ``batch_loss``; every
    ``validate_every`` steps (and at the end) ``validation`` scores the model, and at the end
    the model holds the weights with the best score (lower is better)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=steps, pct_start=max(0.05, 3 / steps)
    )
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    started = time.monotonic()
    for step in range(1, steps + 1):
        model.train()
        loss = batch_loss()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        history.steps.append(step)
        history.loss.append(float(loss.detach()))
        if validation is not None and (step % validate_every == 0 or step == steps):
            model.eval()
            value = validation()
            history.val_steps.append(step)
            history.val_esr.append(value)
            if value < history.best_val_esr:
                history.best_val_esr = value
                best_state = copy.deepcopy(model.state_dict())
        if progress:
            progress(step, steps, history.loss[-1], history.best_val_esr)
    model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.monotonic() - started
    return history


def plot_history(history: History, path, title: str, metric: str = "ESR", reference: float | None = 0.01) -> None:
    """A loss-curve PNG: training loss (smoothed) and the validation metric, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    loss = np.array(history.loss)
    window = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    axes.semilogy(np.arange(len(smooth)) + window, smooth, label=f"training {metric} (segment, smoothed)")
    axes.semilogy(history.val_steps, history.val_esr, "o-", label=f"validation {metric}")
    if reference is not None:
        axes.axhline(reference, color="gray", linestyle="--", linewidth=0.8, label=f"{reference} ('great')")
    axes.set_xlabel("step")
    axes.set_ylabel(metric)
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
