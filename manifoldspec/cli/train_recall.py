"""``manifoldspec train-recall``: train SMT, softmax and linear attention on MQAR and compare recall."""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace

from .._checks import ManifoldSpecError
from .recall_files import merge_runs, prior_runs, run_key, write_runs

EPILOG = """examples:
  manifoldspec train-recall --plot recall.png                     # V=64, (64,4)+(64,8), 800 steps: ~2 min on 1 core
  manifoldspec train-recall --mixers smt,linear --modes 9 --latent-dim 4 --test-slices 64:4,64:8,128:16
  manifoldspec train-recall --steps 20 --batch-size 8 --out recall.json     # quick smoke run
  manifoldspec train-recall --lr 3e-4,1e-3,3e-3,1e-2 --seed 0,1,2 --jobs 2 --plot sweep.png   # LR sweep, best LR per mixer
  manifoldspec train-recall --lr 1e-3,3e-3,1e-2 --seed 0,1,2 --confirm-seeds 3,4,5 --jobs 2    # + an unbiased estimate
  manifoldspec train-recall --lr 1e-3,3e-3 --seed 0,1,2 --out sweep.json --save-models models   # keep runs and models
  manifoldspec train-recall --lr 1e-3,3e-3 --seed 0,1,2 --out sweep.json --save-models models --resume   # after a stop

Chance accuracy is 1/(V − V/2) for MQAR (guessing a value token), 1/(V − 1) for --task induction. Linear attention gets the equal-state d_f unless --linear-features is given;
DeltaNet and gated linear attention (--mixers deltanet,gla) get the equal-state d_k unless --delta-key-dim / --gla-key-dim is.
Needs torch: pip install manifoldspec[nn].
"""


def _slices(text: str, name: str):
    try:
        out = tuple(tuple(int(x) for x in part.split(":")) for part in text.split(",") if part.strip())
    except ValueError:
        raise ManifoldSpecError(f"{name}: expected comma-separated SEQ_LEN:NUM_PAIRS items like 64:4,64:8, got {text!r}") from None
    if not out or any(len(s) != 2 for s in out):
        raise ManifoldSpecError(f"{name}: expected comma-separated SEQ_LEN:NUM_PAIRS items like 64:4,64:8, got {text!r}")
    return out


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-recall", help="train SMT vs softmax vs linear attention on associative recall (MQAR)",
        description="Train small language models that differ only in their sequence mixer (the Spectral Manifold "
                    "Transformer layer, softmax attention via torch SDPA, linear attention) on multi-query "
                    "associative recall (Zoology's MQAR, scaled down for CPU), then print the accuracy per "
                    "(sequence length, number of pairs), the recurrent state size, and optionally a plot.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mixers", default="smt,softmax,linear",
                   help="comma-separated mixers to train: smt, softmax, linear, deltanet, gla (default: smt,softmax,linear)")
    d = p.add_argument_group("data")
    d.add_argument("--task", choices=("mqar", "induction"), default="mqar",
                   help="mqar (default), or induction: single-query recall of the token after a special token "
                        "(Mamba's induction heads; the N of each slice is ignored, e.g. --train-slices 64:1 "
                        "--test-slices 64:1,256:1,1024:1 for length extrapolation)")
    d.add_argument("--vocab", type=int, default=64, help="vocabulary size V: keys in [1, V/2), values in [V/2, V) (default 64)")
    d.add_argument("--train-slices", default="64:4,64:8", help="training (seq_len:num_pairs) slices, cycled per step (default 64:4,64:8)")
    d.add_argument("--test-slices", default=None, help="evaluation slices (default: the training slices)")
    d.add_argument("--power-a", type=float, default=0.01, help="power-law exponent of the query gaps (Zoology 0.01; 1 = uniform)")
    d.add_argument("--test-examples", type=int, default=512, help="held-out examples per test slice (default 512)")
    m = p.add_argument_group("model")
    m.add_argument("--d-model", type=int, default=64, help="model width (default 64)")
    m.add_argument("--layers", type=int, default=2, help="number of blocks (default 2)")
    m.add_argument("--heads", type=int, default=2, help="heads per mixer (default 2)")
    m.add_argument("--modes", type=int, default=5, help="SMT: number of torus modes K, rounded up to whole shells (default 5: "
                   "the |m|² ≤ 1 modes of T², which learned MQAR where K = 21 did not)")
    m.add_argument("--latent-dim", type=int, default=2, help="SMT: latent torus dimension n (default 2)")
    m.add_argument("--base", choices=("torus", "sphere"), default="torus",
                   help="SMT: base manifold, the torus Tⁿ or the sphere S² (real harmonics, K = (L+1)², a "
                        "conformal warp; --latent-dim does not apply) (default torus)")
    m.add_argument("--sigma", type=float, default=0.5, help="SMT: initial bump width σ (default 0.5)")
    m.add_argument("--filter", choices=("heat", "none"), default="heat", help="SMT: spectral filter f (default heat)")
    m.add_argument("--flow", nargs="?", type=float, const=1e-3, default=None, metavar="DT",
                   help="SMT: decay the warp by the linearized Ricci flow (eq. 8), dt learned per head from DT "
                        "(default 1e-3): D = exp(−|q|² dt) on H (torus), exp(−(l(l+1) − 2) dt) per degree l ≥ 1 of the "
                        "warp (sphere)")
    m.add_argument("--no-warp", action="store_true",
                   help="SMT ablation: no token warp (α ≡ 0, so H ≡ 0): kernelized linear attention with the torus modes")
    m.add_argument("--positions", choices=("content", "index"), default="content",
                   help="SMT: token positions from content (default) or the ablation μ_t = q_t = ω·t (position only)")
    m.add_argument("--linear-features", type=int, default=None,
                   help="linear attention: feature dimension (elu: d_f; taylor: the projection size f) (default: the "
                        "smallest whose state is at least the SMT model's, an equal-state baseline)")
    m.add_argument("--linear-map", choices=("elu", "taylor"), default="elu",
                   help="linear attention's feature map: elu + 1, or Based's second-order Taylor map (default elu)")
    m.add_argument("--delta-key-dim", type=int, default=None,
                   help="DeltaNet: key size d_k per head (default: the equal-state d_k, nh·d_k·d_v ≥ SMT's state)")
    m.add_argument("--gla-key-dim", type=int, default=None,
                   help="gated linear attention: key size d_k per head (default: the equal-state d_k, "
                        "nh·d_k·d_v ≥ SMT's state)")
    m.add_argument("--gla-gate", choices=("vector", "scalar", "mamba2"), default="vector",
                   help="gated linear attention's decay: vector, one per key channel (GLA); scalar, one per "
                        "head (the Mamba-2/SSD recurrence); mamba2, the scalar gate with Mamba-2's Δ-scaled write, "
                        "D skip and output gate (still without its input expansion) (default vector)")
    o = p.add_argument_group("optimization and output")
    o.add_argument("--steps", type=int, default=800, help="training steps per model (default 800)")
    o.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    o.add_argument("--lr", default="3e-3", help="peak AdamW learning rate, or a comma-separated list to sweep (default 3e-3)")
    o.add_argument("--seed", default="0", help="random seed, or a comma-separated list (default 0)")
    o.add_argument("--confirm-seeds", default=None, metavar="SEEDS",
                   help="sweep: after choosing each mixer's learning rate on --seed, train it again with these other "
                        "seeds and report their accuracy, which the choice did not see (an unbiased estimate)")
    o.add_argument("--jobs", type=int, default=1, help="sweep: training runs in parallel processes (default 1)")
    o.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per run (default: torch's choice; 1 with --jobs > 1)")
    o.add_argument("--plot", default=None, metavar="FILE",
                   help="write accuracy bars and loss curves (sweep: accuracy against learning rate) to this image")
    o.add_argument("--out", default=None, metavar="FILE",
                   help="write every run as JSON (a .json file name), rewritten after each finished run so that an "
                        "interrupted sweep keeps what it did; an existing file is refused unless --resume or --overwrite")
    o.add_argument("--resume", action="store_true",
                   help="continue the runs in --out: those already there (same configuration) are read back, not "
                        "trained again; only the missing (mixer, lr, seed) runs are. Adds mixers too: a mixer's own options need "
                        "to match only if the file holds runs of it")
    o.add_argument("--overwrite", action="store_true", help="replace an existing --out (and checkpoints in --save-models)")
    o.add_argument("--save-models", default=None, metavar="DIR",
                   help="save every trained model to DIR/<mixer>_lr<lr>_seed<seed>.pt (created if missing; a DIR that "
                        "already holds checkpoints needs --resume or --overwrite); load one with "
                        "manifoldspec.nn.load_recall_model")
    o.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.set_defaults(func=run, output_files=("out", "plot"), output_dirs=("save_models",), out_suffixes=(".json",))


def _numbers(text: str, name: str, kind):
    try:
        out = tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ManifoldSpecError(f"{name}: expected a {kind.__name__} or a comma-separated list of them, got {text!r}") from None
    if not out:
        raise ManifoldSpecError(f"{name}: expected a {kind.__name__} or a comma-separated list of them, got {text!r}")
    return out


def run(args) -> int:
    try:
        import torch
    except ImportError:
        raise ManifoldSpecError("train-recall needs PyTorch: pip install manifoldspec[nn]") from None
    from ..nn.models import MIXERS
    from ..nn.train import TrainConfig, equal_state_features, plot_recall, train_recall

    mixers = [m.strip() for m in args.mixers.split(",") if m.strip()]
    bad = [m for m in mixers if m not in MIXERS]
    if bad or not mixers:
        raise ManifoldSpecError(f"--mixers: expected a comma-separated subset of {tuple(MIXERS)}, got {args.mixers!r}")
    lrs, seeds = _numbers(args.lr, "--lr", float), _numbers(args.seed, "--seed", int)
    confirm = _numbers(args.confirm_seeds, "--confirm-seeds", int) if args.confirm_seeds is not None else ()
    if set(confirm) & set(seeds):
        raise ManifoldSpecError(f"--confirm-seeds: must differ from --seed {args.seed}, got {args.confirm_seeds} "
                                "(a confirmation run with a selection seed would repeat that run)")
    if args.flow is not None and not (math.isfinite(args.flow) and args.flow > 0):
        raise ManifoldSpecError(f"--flow: the initial flow step DT must be a finite number > 0, got {args.flow}")
    if args.threads:
        torch.set_num_threads(int(args.threads))
    train = _slices(args.train_slices, "--train-slices")
    test = _slices(args.test_slices, "--test-slices") if args.test_slices else train
    cfg = TrainConfig(vocab_size=args.vocab, train_slices=train, test_slices=test, d_model=args.d_model,
                      n_layers=args.layers, n_heads=args.heads, steps=args.steps, batch_size=args.batch_size, lr=lrs[0],
                      power_a=args.power_a, test_examples=args.test_examples, seed=seeds[0], task=args.task,
                      smt={"n_modes": args.modes, "latent_dim": args.latent_dim, "sigma": args.sigma,
                           "filter": args.filter, "flow_dt": args.flow, "warp": not args.no_warp,
                           "positions": args.positions, "base": args.base})
    if "linear" in mixers:
        cfg = replace(cfg, linear={"feature_map": args.linear_map, "feature_dim": args.linear_features or 1})
        if args.linear_features is None:
            cfg = replace(cfg, linear={**cfg.linear, "feature_dim": equal_state_features(cfg)})
    if "deltanet" in mixers:
        cfg = replace(cfg, deltanet={"key_dim": args.delta_key_dim or equal_state_features(cfg, "deltanet", "key_dim")})
    if "gla" in mixers:
        cfg = replace(cfg, gla={"key_dim": args.gla_key_dim or 1, "gate": args.gla_gate})
        if args.gla_key_dim is None:
            cfg = replace(cfg, gla={**cfg.gla, "key_dim": equal_state_features(cfg, "gla", "key_dim")})
    show = not args.no_progress and sys.stderr.isatty()
    chance = cfg.chance
    cols = [f"L={L},N={N}" for L, N in test]
    task = "MQAR" if cfg.task == "mqar" else "induction-heads"
    print(f"{task} accuracy (V={cfg.vocab_size}, chance {chance:.4f}, {cfg.steps} steps × batch {cfg.batch_size})")
    if "linear" in mixers:
        how = "given" if args.linear_features else "equal state with SMT"
        print(f"linear attention: {args.linear_map} features, feature_dim = {cfg.linear['feature_dim']} ({how})")
    if "deltanet" in mixers:
        how = "given" if args.delta_key_dim else "equal state with SMT"
        print(f"DeltaNet: key_dim = {cfg.deltanet['key_dim']} ({how})")
    if "gla" in mixers:
        how = "given" if args.gla_key_dim else "equal state with SMT"
        print(f"gated linear attention ({args.gla_gate} gate): key_dim = {cfg.gla['key_dim']} ({how})")
    prior = prior_runs(args, cfg)
    save_dir = _model_dir(args)
    if len(lrs) > 1 or len(seeds) > 1 or confirm:
        return _sweep(args, mixers, cfg, lrs, seeds, confirm, cols, show, prior, save_dir)
    results = []
    for mixer in mixers:
        old = [r for r in prior if (r["mixer"], r["lr"], r["seed"]) == (mixer, cfg.lr, cfg.seed)]
        if old:
            print(f"{mixer}: read back from {args.out}")
        results.append(old[0] if old else {**train_recall(mixer, cfg, progress=show), "lr": cfg.lr, "seed": cfg.seed})
        if save_dir is not None and not old:
            from ..nn.checkpoint import checkpoint_name, save_recall_model
            path = save_dir / checkpoint_name(mixer, cfg.lr, cfg.seed)
            print(f"model saved to {save_recall_model(results[-1]['model'], mixer, cfg, path)}")
        if args.out and not old:
            write_runs(args.out, cfg, merge_runs(results, prior), partial=True)
    print(f"{'mixer':<8} " + " ".join(f"{c:>11}" for c in cols) + f" {'state':>9} {'params':>8} {'train s':>8}")
    for r in results:
        print(f"{r['mixer']:<8} " + " ".join(f"{r['accuracy'][s]:>11.3f}" for s in test)
              + f" {r['state_size']:>9d} {r['params']:>8d} {r['seconds']:>8.1f}")
    print(STATE_NOTE)
    if args.out:  # before the plot: the numbers are what a long run must not lose
        write_runs(args.out, cfg, merge_runs(results, prior))
    if args.plot:
        plot_recall(results, args.plot)
        print(f"plot written to {args.plot}")
    return 0


STATE_NOTE = "state = recurrent state scalars over all layers (softmax: KV cache at the longest test length)"


def _model_dir(args):
    """--save-models as a created directory (None without it); refuses one that holds checkpoints already,
    unless the run continues (--resume) or replaces (--overwrite) them."""
    if not args.save_models:
        return None
    from pathlib import Path

    d = Path(args.save_models)
    held = sorted(p.name for p in d.glob("*.pt")) if d.is_dir() else []
    if held and not (args.resume or args.overwrite):
        raise ManifoldSpecError(f"--save-models: {args.save_models!r} already holds {len(held)} checkpoints "
                                f"({held[0]}, …); pass --resume or --overwrite, or choose another directory")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sweep(args, mixers, cfg, lrs, seeds, confirm, cols, show, prior, save_dir) -> int:
    from ..nn.sweep import best_learning_rates, held_out_accuracy, plot_sweep, spread_cells, sweep_recall

    n = len(mixers) * len(lrs) * len(seeds)
    print(f"sweep: {len(mixers)} mixers × {len(lrs)} learning rates × {len(seeds)} seeds = {n} runs, {args.jobs} at a time"
          + (f", then {len(mixers) * len(confirm)} confirmation runs" if confirm else ""))
    total = n + len(mixers) * len(confirm)
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc="sweep", unit="run")

    count = [0]
    finished = []
    grid = {(m, float(lr), int(sd)) for m in mixers for lr in lrs for sd in seeds}
    reused = sum(run_key(r) in grid for r in prior)
    if reused:
        print(f"resume: {reused} of the {n} sweep runs read back from {args.out}")
        if bar is not None:
            bar.update(reused)
        count[0] = reused

    def done(r):
        finished.append(r)
        if args.out:  # after every run: an interrupted sweep keeps what it did (continue it with --resume)
            write_runs(args.out, cfg, merge_runs(finished, prior), partial=True)
        count[0] += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(last=f"{r['mixer']} lr={r['lr']:g} seed={r['seed']}")
        else:  # no terminal: one line per finished run, so a long sweep shows progress in a log
            print(f"[{count[0]}/{total}] {r['mixer']} lr={r['lr']:g} seed={r['seed']}: "
                  + " ".join(f"{a:.3f}" for a in r["accuracy"].values()) + f" ({r['seconds']:.0f} s)", flush=True)

    records = sweep_recall(mixers, cfg, lrs, seeds, jobs=args.jobs, threads=args.threads, on_result=done,
                           existing=prior, save_dir=save_dir)
    best = best_learning_rates(records)
    held = None
    if confirm:
        for m, b in best.items():
            records += sweep_recall([m], cfg, [b["lr"]], confirm, jobs=args.jobs, threads=args.threads, on_result=done,
                                    existing=prior, save_dir=save_dir)
        held = held_out_accuracy(records, seeds)
    if bar is not None:
        bar.close()
    print(f"\nall runs\n{'mixer':<8} {'lr':>8} {'seed':>5} " + " ".join(f"{c:>11}" for c in cols) + f" {'train s':>8}")
    for r in records:
        print(f"{r['mixer']:<8} {r['lr']:>8.1e} {r['seed']:>5d} " + " ".join(f"{a:>11.3f}" for a in r["accuracy"].values())
              + f" {r['seconds']:>8.1f}")
    state = {r["mixer"]: r["state_size"] for r in records}
    on = next(iter(best.values()))["selected_on"]  # "test" when read-back runs predate the validation set
    print(f"\nbest learning rate per mixer (highest slice-mean {on} accuracy, averaged over seeds "
          f"{', '.join(map(str, seeds))}); cells: test accuracy, mean [min, max] over seeds")
    print(f"{'mixer':<8} {'best lr':>8} " + " ".join(f"{c:>19}" for c in cols) + f" {'state':>9}")
    for m, b in best.items():
        print(f"{m:<8} {b['lr']:>8.1e} {spread_cells(b)} {state[m]:>9d}")
    print(STATE_NOTE)
    print(f"the rate is chosen on {on} examples of the same seeds, so these numbers are optimistic"
          + ("" if confirm else "; --confirm-seeds gives an unbiased estimate"))
    if held is not None:
        print(f"\nconfirmation: test accuracy at each mixer's chosen rate with seeds {', '.join(map(str, confirm))}, "
              "which the choice did not see; cells: mean [min, max] over those seeds")
        print(f"{'mixer':<8} {'lr':>8} " + " ".join(f"{c:>19}" for c in cols) + f" {'mean':>6} {'(chosen)':>8}")
        for m, h in held.items():
            print(f"{m:<8} {h['lr']:>8.1e} {spread_cells(h)} {h['score']:>6.3f} {h['selected_score']:>8.3f}")
        print("(chosen): the slice mean of the selection seeds at that rate, for comparison")
    if args.out:
        write_runs(args.out, cfg, merge_runs(records, prior), best, held)
    if args.plot:
        plot_sweep([r for r in records if r["seed"] in seeds], args.plot)
        print(f"plot written to {args.plot}")
    return 0
