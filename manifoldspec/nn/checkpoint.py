"""Save and load models trained by :func:`~manifoldspec.nn.train.train_recall` (``train-recall --save-models``).

A checkpoint holds the mixer name, the :class:`~manifoldspec.nn.train.TrainConfig` as plain values and the
model's ``state_dict``, so :func:`load_recall_model` rebuilds the same model without the script that trained
it. It is read with ``torch.load(weights_only=True)``: plain values and tensors only, no pickled code.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .._checks import ManifoldSpecError
from .._files import atomic_write

FORMAT = "manifoldspec.recall_model/1"


def checkpoint_name(mixer: str, lr: float, seed: int) -> str:
    """The file name ``train-recall --save-models`` gives a run: ``<mixer>_lr<lr>_seed<seed>.pt``."""
    return f"{mixer}_lr{lr:g}_seed{seed}.pt"


def save_recall_model(model, mixer: str, cfg, path) -> Path:
    """Write ``model`` (trained with ``cfg``) to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    doc = {"format": FORMAT, "mixer": mixer, "config": dataclasses.asdict(cfg),
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    return atomic_write(path, lambda tmp: torch.save(doc, tmp))


def load_recall_model(path, map_location="cpu"):
    """Rebuild a model saved by :func:`save_recall_model`.

    Returns
    -------
    (model, mixer, cfg): the :class:`~manifoldspec.nn.models.SMTLanguageModel` in eval mode with the saved
    weights, its mixer name, and its :class:`~manifoldspec.nn.train.TrainConfig` (with the run's lr and seed).

    Raises
    ------
    ManifoldSpecError
        naming ``path`` when it is missing, unreadable, or not a manifoldspec recall checkpoint.
    """
    from .train import TrainConfig, build_model

    try:
        doc = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ManifoldSpecError(f"path: {str(path)!r} does not exist") from None
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise ManifoldSpecError(f"path: cannot read {str(path)!r} as a checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifoldSpecError(f"path: {str(path)!r} is not a manifoldspec recall checkpoint (expected format {FORMAT})")
    cfg = TrainConfig.from_plain(doc["config"])
    model = build_model(doc["mixer"], cfg)
    model.load_state_dict(doc["state_dict"])
    return model.eval(), doc["mixer"], cfg
