"""The JSON file of ``manifoldspec train-recall``: written after every run, read back to resume a sweep.

Layout: ``config`` (the TrainConfig fields; without ``lr`` and ``seed`` when the runs differ in them),
``results`` (one record per run: mixer, lr, seed, accuracy and validation per "L:N" slice, losses, state
size, parameters, seconds), and for a finished sweep ``best`` and ``held_out``; ``"partial": true`` while a
sweep is still filling it. Files are replaced atomically, so an interrupted write leaves the previous one.
"""
from __future__ import annotations

import json
from pathlib import Path

from .._checks import ManifoldSpecError
from .outputs import write_text_atomic

PER_RUN = ("lr", "seed")
MIXER_SECTIONS = ("smt", "softmax", "linear", "deltanet", "gla")  # TrainConfig keys named after their mixer


def run_key(r) -> tuple:
    """(mixer, lr, seed) of a run record."""
    return r["mixer"], float(r["lr"]), int(r["seed"])


def merge_runs(records, prior) -> list:
    """``records``, then the runs of ``prior`` (an earlier file) that ``records`` does not hold."""
    have = {run_key(r) for r in records}
    return list(records) + [r for r in prior if run_key(r) not in have]


def _slices_out(acc: dict) -> dict:
    return {f"{L}:{N}": a for (L, N), a in acc.items()}


def _slices_in(acc: dict) -> dict:
    return {tuple(int(x) for x in k.split(":")): a for k, a in acc.items()}


def config_doc(cfg) -> dict:
    """The configuration as the file stores it, without lr and seed (set per run), JSON-normalized."""
    return json.loads(json.dumps({k: v for k, v in cfg.__dict__.items() if k not in PER_RUN}))


def read_runs(path) -> tuple[dict, list, bool]:
    """(config without lr/seed, run records with (L, N) tuple keys, partial flag) of a train-recall file.

    Raises
    ------
    ManifoldSpecError
        naming the file when it cannot be read or is not a train-recall JSON.
    """
    try:
        doc = json.loads(Path(path).read_text())
        config, runs = doc["config"], doc["results"]
        records = [{**r, **{k: _slices_in(r[k]) for k in ("accuracy", "validation") if k in r}} for r in runs]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifoldSpecError(f"cannot read {str(path)!r} as train-recall JSON ({exc})") from None
    return {k: v for k, v in config.items() if k not in PER_RUN}, records, bool(doc.get("partial", False))


def prior_runs(args, cfg) -> list:
    """Runs of an existing ``--out`` to continue (``--resume``), or []; refuses to clobber the file otherwise."""
    if args.resume and args.overwrite:
        raise ManifoldSpecError("--resume and --overwrite: choose one (continue the file, or replace it)")
    if not args.out:
        if args.resume:
            raise ManifoldSpecError("--resume: needs --out FILE (the JSON of the runs to continue)")
        return []
    if not Path(args.out).exists() or args.overwrite:
        return []
    if not args.resume:
        raise ManifoldSpecError(f"--out: {args.out!r} exists; pass --resume to continue its runs or --overwrite to "
                                "replace it")
    try:
        config, records, _ = read_runs(args.out)
    except ManifoldSpecError as exc:
        raise ManifoldSpecError(f"--resume: {exc}") from None
    want = config_doc(cfg)
    held = {run_key(r)[0] for r in records}
    # a mixer's own options (its section) only have to agree if the file holds runs of that mixer, so a
    # sweep can be extended by a mixer with options of its own; the new section is then the one written
    diff = sorted(k for k in set(config) | set(want) if config.get(k) != want.get(k)
                  and not (k in MIXER_SECTIONS and k not in held))
    if diff:
        raise ManifoldSpecError(f"--resume: {args.out!r} was written with another configuration (differs in "
                                f"{', '.join(diff)}); use the same options, or another --out")
    return records


def write_runs(path, cfg, results, best=None, held=None, partial=False) -> None:
    """Write the runs (and a finished sweep's ``best`` / ``held_out`` summaries) to ``path`` atomically;
    ``partial`` marks a file that is still being filled, which ``--resume`` continues."""
    one_run = best is None and all(run_key(r)[1:] == (cfg.lr, cfg.seed) for r in results)
    doc = {"config": {k: v for k, v in cfg.__dict__.items() if k not in PER_RUN or one_run},
           "results": [{"mixer": r["mixer"], "lr": r["lr"], "seed": r["seed"], "accuracy": _slices_out(r["accuracy"]),
                        **({"validation": _slices_out(r["validation"])} if "validation" in r else {}),
                        "losses": r["losses"], "state_size": r["state_size"], "params": r["params"],
                        "seconds": r["seconds"]} for r in results]}
    if partial:
        doc["partial"] = True
    if best is not None:
        doc["best"] = {m: {"lr": b["lr"], "score": b["score"], "selected_on": b["selected_on"], "seeds": list(b["seeds"]),
                           "by_lr": {f"{lr:g}": v for lr, v in b["by_lr"].items()},
                           "selection_by_lr": {f"{lr:g}": v for lr, v in b["selection_by_lr"].items()},
                           **{k: _slices_out(b[k]) for k in ("mean", "min", "max")}}
                       for m, b in best.items()}
    if held is not None:
        doc["held_out"] = {m: {"lr": h["lr"], "score": h["score"], "seeds": list(h["seeds"]),
                               "selected_score": h["selected_score"], "selection_seeds": list(h["selection_seeds"]),
                               **{k: _slices_out(h[k]) for k in ("mean", "min", "max")}}
                           for m, h in held.items()}
    write_text_atomic(path, json.dumps(doc, indent=1))
    if not partial:
        print(f"results written to {path}")
