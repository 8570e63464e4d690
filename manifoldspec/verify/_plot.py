"""Small matplotlib helpers shared by the per-check plots (Agg backend, opened lazily)."""
from __future__ import annotations

from pathlib import Path


def figure(ncols: int = 1, width: float = 5.0, height: float = 3.6):
    """A new (fig, axes) pair; matplotlib is imported here, never at package import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def save(fig, path, title: str | None = None) -> str:
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)


def text_figure(path, text: str) -> str:
    """A figure that only states a message (used for checks that could not run)."""
    fig, (ax,) = figure(1, 5.0, 1.6)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    return save(fig, path)
