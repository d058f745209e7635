"""Membership inference: was this point in the training set?

A model usually fits the points it was trained on better than points it never saw. The
loss-threshold attack (Yeom et al., 2018) says "member" when a point's loss is below a
threshold; the confidence attack says so when the model's top probability is above one and
needs no label. Sweeping the threshold over every value gives the ROC curve: the true-positive
rate (members called members) against the false-positive rate (non-members called members).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.metrics import confidence
from engine.network import Network
from engine.training import encode_targets

Floats = npt.NDArray[np.float64]


def example_losses(
    network: Network, x: npt.NDArray[np.float64], y: npt.NDArray[np.int64]
) -> Floats:
    """Each point's own loss under the network's loss function."""
    targets = encode_targets(y, network)
    with np.errstate(all="ignore"):
        p = network.predict(x.astype(network.dtype))
        return np.array(
            [network.loss.value(p[i : i + 1], targets[i : i + 1]) for i in range(len(x))],
            dtype=np.float64,
        )


def example_confidences(network: Network, x: npt.NDArray[np.float64]) -> Floats:
    """Each point's top predicted probability (needs no label)."""
    with np.errstate(all="ignore"):
        return confidence(network.predict(x.astype(network.dtype)))


def roc(members: Floats, others: Floats) -> tuple[Floats, Floats]:
    """The ROC curve of the rule "member when score >= t", over every threshold t.

    Args:
        members: Scores of the training points (higher: more member-like).
        others: Scores of the points never trained on.

    Returns:
        (fpr, tpr), from (0, 0) to (1, 1); tied scores move both rates in one step.
    """
    scores = np.sort(np.concatenate([members, others]))  # NaN (a diverged run) sorts last
    distinct = np.ones(len(scores), dtype=bool)
    nan = np.isnan(scores)
    distinct[1:] = (scores[1:] != scores[:-1]) & ~(nan[1:] & nan[:-1])  # one NaN threshold
    thresholds = scores[distinct][::-1]
    return _share_at_least(others, thresholds), _share_at_least(members, thresholds)


def _share_at_least(scores: Floats, thresholds: Floats) -> Floats:
    """[0, share of ``scores`` >= t for each t]: sorted once, counted by binary search (NaN is
    never >= anything, and nothing is >= NaN)."""
    finite = np.sort(scores[~np.isnan(scores)])
    at_least = len(finite) - np.searchsorted(finite, thresholds, side="left")
    with np.errstate(invalid="ignore"):  # no scores at all: every share is NaN
        shares = at_least / np.float64(len(scores))
    return np.concatenate([[0.0], shares])


def auc(members: Floats, others: Floats) -> float:
    """P(a member scores above a non-member), ties counting half (the area under the ROC)."""
    if not len(members) or not len(others):
        return float("nan")
    greater = (members[:, None] > others[None, :]).mean()
    equal = (members[:, None] == others[None, :]).mean()
    return float(greater + equal / 2)


def advantage(fpr: Floats, tpr: Floats) -> float:
    """The attacker's best advantage over guessing: max |TPR - FPR| over thresholds."""
    return float(np.max(np.abs(tpr - fpr))) if len(fpr) else float("nan")
