"""Honest probabilities, fitted after training on the validation split (never the test set):
temperature scaling (Guo et al., 2017), the expected calibration error that measures it, and the
threshold on the top probability under which a reading is refused as "not a digit"."""
import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

BINS = 15  # of the expected calibration error, as in Guo et al.
REFUSE_DIGITS = 0.001  # share of held-out digits the "not a digit" threshold may refuse (see README)


def calibrated(logits: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """Probabilities from a model's logits with its fitted temperature (1 for a model that has none)."""
    return torch.softmax(logits.float() / getattr(model, "temperature", 1.0), dim=1)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """The temperature T minimizing the negative log-likelihood of softmax(logits / T) on held-out data
    (weighted by `weights`, one per sample, when given). One parameter, so the argmax (the digit read) never
    changes; fitted on log T to keep T positive."""
    logits, labels = logits.detach().float().cpu(), labels.cpu()
    weights = torch.ones(len(labels)) if weights is None else weights.float().cpu()
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def nll():
        optimizer.zero_grad()
        loss = (F.cross_entropy(logits / log_t.exp(), labels, reduction="none") * weights).sum() / weights.sum()
        loss.backward()
        return loss

    optimizer.step(nll)
    return float(log_t.detach().exp())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE of the top class: the mean, weighted by bin size, of |accuracy - confidence| over equal-width
    confidence bins."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    confidence, predicted = probs.max(1), probs.argmax(1)
    correct = predicted == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def refusal_threshold(top_probs: np.ndarray, share: float = REFUSE_DIGITS) -> float:
    """The top probability under which a reading counts as "not a digit": the `share` quantile of the top
    probabilities of held-out digits, so that about that share of real digits is refused."""
    return float(np.quantile(np.asarray(top_probs, np.float64), share))


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """Area under the ROC curve for telling digits (higher score) from non-digits: the chance that a random
    digit scores above a random non-digit, ties counting half (the Mann-Whitney U statistic)."""
    a, b = np.asarray(digit_scores, np.float64), np.asarray(other_scores, np.float64)
    ranks = rankdata(np.concatenate([a, b]))  # ties get their mean rank
    return float((ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2) / (len(a) * len(b)))
