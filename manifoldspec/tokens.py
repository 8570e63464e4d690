"""Reading token warps from files (the CLI's ``--tokens``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import ManifoldSpecError
from .geometry.warp import TokenWarp


def load_tokens(path, dim: int, *, sigma: float | None = None, period=None) -> TokenWarp:
    """Load a token warp for a ``dim``-dimensional ambient space.

    Accepted formats
    ----------------
    ``.npz`` with arrays ``alpha`` (N,), ``mu`` (N, dim), ``v`` (N, dim) and optionally ``sigma``;
    ``.npy`` with one row per token: ``[alpha, mu_1..mu_dim, v_1..v_dim]`` (N, 1 + 2·dim).
    ``sigma`` given here overrides the file's.
    """
    p = Path(path)
    if not p.is_file():
        raise ManifoldSpecError(f"tokens: file {str(p)!r} does not exist")
    try:
        data = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise ManifoldSpecError(f"tokens: cannot read {str(p)!r} as .npy/.npz ({exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        missing = {"alpha", "mu", "v"} - set(data.files)
        if missing:
            raise ManifoldSpecError(f"tokens: {str(p)!r} lacks array(s) {sorted(missing)}; expected alpha, mu, v (and optional sigma)")
        alpha, mu, v = data["alpha"], data["mu"], data["v"]
        if sigma is None and "sigma" in data.files:
            if np.asarray(data["sigma"]).size != 1:
                raise ManifoldSpecError(f"tokens: sigma in {str(p)!r} must be one number, got shape {np.asarray(data['sigma']).shape}")
            sigma = float(np.asarray(data["sigma"], dtype=float).reshape(()))
    else:
        try:
            arr = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise ManifoldSpecError(f"tokens: {str(p)!r} holds {data.dtype} data; a .npy token file must be numeric") from None
        if arr.ndim != 2 or arr.shape[1] != 1 + 2 * dim:
            raise ManifoldSpecError(
                f"tokens: {str(p)!r} has shape {arr.shape}; a .npy token file must be (N, {1 + 2 * dim}) "
                f"with columns [alpha, mu_1..mu_{dim}, v_1..v_{dim}]")
        alpha, mu, v = arr[:, 0], arr[:, 1:1 + dim], arr[:, 1 + dim:]
    if np.asarray(mu).ndim != 2 or np.asarray(mu).shape[1] != dim:
        raise ManifoldSpecError(f"tokens: mu must have shape (N, {dim}) for this manifold, got {np.asarray(mu).shape}")
    return TokenWarp(alpha, mu, v, 0.5 if sigma is None else sigma, period)
