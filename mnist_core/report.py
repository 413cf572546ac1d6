"""Training curves: rows collected from engine events, drawn with matplotlib (the app plots the same rows)."""
from pathlib import Path

from .engine import Event


class History:
    """Loss and accuracy rows against iteration, one per event."""

    def __init__(self):
        self.rows: list[tuple[int, str, float]] = []  # (iteration, metric, value)

    def add(self, ev: Event):
        self.rows.append((ev.iteration, "train loss", ev.train_loss))
        self.rows.append((ev.iteration, "train accuracy", ev.train_acc))
        if ev.val_acc is not None:  # held out from training: the curve that shows over-fitting
            self.rows.append((ev.iteration, "validation accuracy", ev.val_acc))
        if ev.test_acc is not None:  # once, at the end
            self.rows.append((ev.iteration, "test accuracy", ev.test_acc))

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        points = [(i, v) for i, m, v in self.rows if m == metric]
        return [i for i, _ in points], [v for _, v in points]


def plot_curves(history: History, path, title: str = "") -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(*history.series("train loss"), label="train loss")
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="loss")
    for metric in ("train accuracy", "validation accuracy", "test accuracy"):
        ax_acc.plot(*history.series(metric), label=metric, marker=None if metric.startswith("train") else "o", ms=3)
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy", ylim=(0.9, 1.0))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
