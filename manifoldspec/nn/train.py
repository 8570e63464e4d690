"""Train the three mixers on MQAR in one harness and report accuracy per (L, N) slice.

Fresh batches are sampled every step (an unbounded training set; Zoology uses a fixed
100k-example set — on CPU we never come close to one epoch of that). Optimizer: AdamW,
weight decay 0.1, linear warm-up then cosine decay (Zoology's schedule).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
import torch.nn.functional as Fn

from .._checks import ManifoldSpecError, positive_int, positive_scalar
from .models import MIXERS, SMTLanguageModel
from .mqar import IGNORE, MQARConfig, induction_batch, mqar_batch


@dataclass(frozen=True)
class TrainConfig:
    """Model and optimization settings shared by all mixers of a comparison.

    ``train_slices`` / ``test_slices`` are (seq_len, num_pairs) pairs; training draws each
    batch from one slice, cycling through them. ``smt`` / ``linear`` / ``softmax`` / ``deltanet`` /
    ``gla`` hold extra keyword arguments for those mixers (e.g. ``{"n_modes": 32}``).
    """

    vocab_size: int = 64
    train_slices: tuple = ((64, 4), (64, 8))
    test_slices: tuple = ((64, 4), (64, 8))
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    steps: int = 800
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup: int = 50
    power_a: float = 0.01
    test_examples: int = 256
    seed: int = 0
    # K = 5 (the |m|² ≤ 1 modes of T²) learned MQAR; K = 21 did not (benchmarks/results/nn.md)
    smt: dict = field(default_factory=lambda: {"n_modes": 5, "latent_dim": 2, "flow_dt": None})
    linear: dict = field(default_factory=lambda: {"feature_dim": 16})
    softmax: dict = field(default_factory=dict)
    deltanet: dict = field(default_factory=lambda: {"key_dim": 16})
    # gate "vector" (GLA) or "scalar" (the Mamba-2/SSD recurrence); see manifoldspec.nn.gla
    gla: dict = field(default_factory=lambda: {"key_dim": 16, "gate": "vector"})
    # "mqar", or "induction" (single query, NN_ANCHORS T3; num_pairs in the slices is ignored)
    task: str = "mqar"

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "steps", "batch_size", "test_examples"):
            positive_int(getattr(self, name), name)
        positive_scalar(self.lr, "lr")
        if self.task not in TASKS:
            raise ManifoldSpecError(f"task: expected one of {TASKS}, got {self.task!r}")
        for name in ("train_slices", "test_slices"):
            if not getattr(self, name):
                raise ManifoldSpecError(f"{name}: need at least one (seq_len, num_pairs) slice")
            for L, N in getattr(self, name):
                if self.task == "mqar":
                    MQARConfig(self.vocab_size, L, N, self.power_a)  # validates
                else:
                    induction_batch(self.vocab_size, L, 1, np.random.default_rng(0))  # validates

    @classmethod
    def from_plain(cls, values: dict) -> "TrainConfig":
        """The configuration from its stored plain values (a results JSON's ``config``, a checkpoint's): the
        slices come back as tuples, and keys that are not fields (or are missing, like a sweep's lr and
        seed) are dropped (take their defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(tuple(s) for s in v) if k.endswith("_slices") else v)
                      for k, v in values.items() if k in names})

    @property
    def chance(self) -> float:
        """Accuracy of guessing a uniform answer token."""
        return 1.0 / (self.vocab_size - (1 if self.task == "induction" else self.vocab_size // 2))


TASKS = ("mqar", "induction")


def task_batch(cfg: TrainConfig, L: int, N: int, batch_size: int, rng):
    """One batch of ``cfg.task`` at sequence length L (N pairs for MQAR)."""
    if cfg.task == "induction":
        return induction_batch(cfg.vocab_size, L, batch_size, rng)
    return mqar_batch(MQARConfig(cfg.vocab_size, L, N, cfg.power_a), batch_size, rng)


def build_model(mixer: str, cfg: TrainConfig) -> SMTLanguageModel:
    if mixer not in MIXERS:
        raise ManifoldSpecError(f"mixer: expected one of {tuple(MIXERS)}, got {mixer!r}")
    return SMTLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, mixer, cfg.n_heads, **getattr(cfg, mixer))


def equal_state_features(cfg: TrainConfig, mixer: str = "linear", key: str = "feature_dim") -> int:
    """The smallest ``cfg.<mixer>[key]`` whose state is at least the SMT layer's (``state_size`` of both models
    under ``cfg``): the equal-state baseline, rounded in the baseline's favour. Defaults: linear attention's
    ``feature_dim`` (with ``cfg.linear``'s feature map, default elu); ``("deltanet", "key_dim")`` for DeltaNet,
    ``("gla", "key_dim")`` for gated linear attention (either gate: both store nh·d_k·d_v)."""
    smt = build_model("smt", cfg).state_size(1)
    for f in range(1, 100_000):
        if build_model(mixer, replace(cfg, **{mixer: {**getattr(cfg, mixer), key: f}})).state_size(1) >= smt:
            return f
    raise ManifoldSpecError(f"{mixer}: no {key} reaches the SMT state")  # pragma: no cover


def _loss_acc(model, x, y):
    logits, _ = model(x)
    loss = Fn.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)
    mask = y != IGNORE
    correct = (logits.argmax(-1) == y) & mask
    acc = (correct.sum(1).float() / mask.sum(1).clamp(min=1).float()).mean()  # per example, then mean
    return loss, acc


# Two held-out sets drawn from the same slices: the test set reports, the validation set selects (the
# learning rate of a sweep), so that a reported number was not also used to choose the model.
TEST_SEED = 12345
VALIDATION_SEED = 54321


@torch.no_grad()
def evaluate_recall(model, cfg: TrainConfig, seed: int = TEST_SEED, batch: int = 128) -> dict:
    """Accuracy on held-out batches per test slice: {(L, N): accuracy}.

    ``seed`` picks the held-out set: :data:`TEST_SEED` (default) or :data:`VALIDATION_SEED`; each slice
    draws ``cfg.test_examples`` examples from ``numpy.random.default_rng([seed, L, N])``.
    """
    model.eval()
    out = {}
    for L, N in cfg.test_slices:
        rng = np.random.default_rng([seed, L, N])
        accs, n = [], 0
        while n < cfg.test_examples:
            b = min(batch, cfg.test_examples - n)
            x, y = task_batch(cfg, L, N, b, rng)
            accs.append(float(_loss_acc(model, x, y)[1]) * b)
            n += b
        out[(L, N)] = sum(accs) / n
    model.train()
    return out


def train_recall(mixer: str, cfg: TrainConfig = TrainConfig(), *, progress: bool = True, log_every: int = 25) -> dict:
    """Train one model on MQAR; returns a dict with the accuracy per slice and the loss curve.

    Returns
    -------
    dict with keys ``mixer``, ``accuracy`` {(L, N): acc} on the test set, ``validation`` {(L, N): acc} on
    the validation set (the same slices and size, other examples), ``losses`` [(step, loss)], ``state_size``
    (recurrent state scalars at the longest test length), ``params``, ``seconds``.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_model(mixer, cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))

    def lr_at(step):
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    losses = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, desc=f"train {mixer}", unit="step", leave=False)
    t0 = time.perf_counter()
    run = 0.0
    for step in range(cfg.steps):
        x, y = task_batch(cfg, *cfg.train_slices[step % len(cfg.train_slices)], cfg.batch_size, rng)
        loss, acc = _loss_acc(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_val = loss.item()
        if not math.isfinite(loss_val):
            raise ManifoldSpecError(f"training of {mixer!r} diverged (loss {loss_val}) at step {step}; lower --lr")
        run = loss_val if step == 0 else 0.9 * run + 0.1 * loss_val
        if step % log_every == 0 or step == cfg.steps - 1:
            losses.append((step, loss_val))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{run:.3f}", acc=f"{float(acc):.2f}")
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    acc = evaluate_recall(model, cfg)
    val = evaluate_recall(model, cfg, seed=VALIDATION_SEED)
    L_max = max(L for L, _ in cfg.test_slices)
    return {"mixer": mixer, "accuracy": acc, "validation": val, "losses": losses, "state_size": model.state_size(L_max),
            "params": sum(p.numel() for p in model.parameters()), "seconds": seconds, "model": model}


def plot_recall(results: list, path: str) -> None:
    """Bar chart of accuracy per slice and mixer, plus the loss curves, written to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    slices = list(results[0]["accuracy"])
    w = 0.8 / len(results)
    for i, r in enumerate(results):
        ax1.bar(np.arange(len(slices)) + i * w, [r["accuracy"][s] for s in slices], w, label=r["mixer"])
        st, ls = zip(*r["losses"])
        ax2.plot(st, ls, label=r["mixer"])
    ax1.set_xticks(np.arange(len(slices)) + 0.4 - w / 2, [f"L={L}\nN={N}" for L, N in slices])
    ax1.set_ylim(0, 1.02)
    ax1.set_ylabel("MQAR accuracy")
    ax1.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("training loss")
    ax2.set_yscale("log")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
