"""Check output paths before a command computes anything, and write result files atomically.

A sweep can train for hours; an output path whose directory is missing, or a plot name matplotlib
cannot write, must stop it at the start, not throw the results away at the end. Subcommands name
their outputs with ``set_defaults``: ``output_files`` (attributes holding a file path, e.g. ``("out",
"plot")``), ``output_dirs`` (attributes holding a directory the command creates), and optionally
``out_suffixes`` (the suffixes ``--out`` accepts).
"""
from __future__ import annotations

import os
from pathlib import Path

from .._checks import ManifoldSpecError
from .._files import atomic_write

PLOT_ATTRS = ("plot", "eigenfunctions")  # image files: any format matplotlib writes


def _plot_suffixes() -> tuple:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return tuple(f".{s}" for s in FigureCanvasAgg(Figure()).get_supported_filetypes())


def check_output_file(path: str, option: str, suffixes: tuple | None = None) -> Path:
    """Raise unless ``path`` can be written as a file: its directory exists and is writable, it is not a
    directory, and (if given) its suffix is one of ``suffixes``."""
    p = Path(path)
    if p.is_dir():
        raise ManifoldSpecError(f"{option}: {path!r} is a directory; expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ManifoldSpecError(f"{option}: the directory {str(parent)!r} of {path!r} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise ManifoldSpecError(f"{option}: the directory {str(parent)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise ManifoldSpecError(f"{option}: {path!r} exists and is not writable")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ManifoldSpecError(f"{option}: expected a file name ending in {', '.join(suffixes)}, got {path!r}")
    return p


def check_output_dir(path: str, option: str) -> Path:
    """Raise unless ``path`` is an existing directory or can be created (its nearest existing ancestor is a
    writable directory)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ManifoldSpecError(f"{option}: {path!r} exists and is not a directory")
    ancestor = p
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise ManifoldSpecError(f"{option}: cannot create {path!r}: {str(ancestor)!r} is not a writable directory")
    return p


def check_outputs(args) -> None:
    """Check every output path a parsed subcommand declares (module docstring)."""
    for attr in getattr(args, "output_files", ()):
        path = getattr(args, attr, None)
        if path:
            option = "--" + attr.replace("_", "-")
            suffixes = _plot_suffixes() if attr in PLOT_ATTRS else getattr(args, f"{attr}_suffixes", None)
            check_output_file(path, option, suffixes)
    for attr in getattr(args, "output_dirs", ()):
        path = getattr(args, attr, None)
        if path:
            check_output_dir(path, "--" + attr.replace("_", "-"))


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename, so that an
    existing file is either replaced whole or left as it was."""
    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    return atomic_write(path, write)
