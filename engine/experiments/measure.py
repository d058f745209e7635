"""Every metric of a session at one moment, as flat dotted names -> float.

This is what scenario expectations are checked against and what reports print. Metrics of an
experiment exist only when the session runs that experiment.
"""

from __future__ import annotations

from engine.experiments import butterfly, ood, poison, precision, side_channel
from engine.experiments.common import run_figures
from engine.metrics import confidence, region_changed
from engine.session import DIFF_GRID, Session

METRICS: dict[str, str] = {
    "epoch": "epochs trained so far",
    "train.loss": "baseline's loss on the training set with its current weights",
    "train.accuracy": "baseline's training accuracy with its current weights",
    "test.loss": "baseline's loss on the held-out test set (NaN when nothing is held out)",
    "test.accuracy": "baseline's test accuracy (NaN when nothing is held out)",
    "probe.<i>.output": "baseline's output at probe i (0-based, in file order): the sigmoid "
    "output, or the last class's probability for softmax",
    "probe.<i>.confidence": "probability of the predicted class at probe i: max(p, 1 - p) for "
    "a sigmoid output",
    "probe.<i>.class": "predicted class at probe i",
    **ood.METRICS,
    **poison.METRICS,
    **butterfly.METRICS,
    **precision.METRICS,
    **side_channel.METRICS,
}
"""Name pattern -> one-line meaning of every metric ``measure`` can report."""


def measure(session: Session) -> dict[str, float]:
    """Every metric of the session now, flat dotted names -> float.

    Args:
        session: The session, at whatever epoch it has reached.

    Returns:
        The metrics this session has (see ``METRICS``), in a stable order.
    """
    with session.lock:  # a worker thread may be training this session
        out: dict[str, float] = {"epoch": float(session.epoch)}
        base = session.runs[0]
        out.update(run_figures(base))
        for i, probe in enumerate(session.scenario.probes):
            p = session.probe(*probe.point).reshape(1, -1)
            out[f"probe.{i}.output"] = float(p[0, -1])
            out[f"probe.{i}.confidence"] = float(confidence(p)[0])
            out[f"probe.{i}.class"] = float(p[0, 0] > 0.5 if p.shape[1] == 1 else p[0].argmax())
        ex = session.scenario.experiments
        data = session.data
        if ex.ood is not None:
            out.update(ood.measure_ood(base.network, data.x_train, ex.ood))
        if ex.poison is not None and session.twins:
            twin = session.twins[0].run
            clean_acc, twin_acc = run_figures(base), run_figures(twin)
            out["poison.flips"] = float(len(session.poisoned))
            out["poison.test_accuracy_change"] = (
                twin_acc["test.accuracy"] - clean_acc["test.accuracy"]
            )
            out["poison.region_changed"] = region_changed(
                base.network, twin.network, session.extent, session.scenario.display.grid
            )
            for key, run in (("poison.flipped_fit", twin), ("poison.flipped_fit_clean", base)):
                out[key] = poison.flipped_fit(
                    run.network, data.x_train, data.y_train, session.poisoned, data.n_classes
                )
        if ex.butterfly is not None and session.twins:
            out.update(_butterfly(session))
        if ex.precision is not None:
            out.update(precision.measure_precision(session.runs))
        if ex.side_channel is not None:
            out.update(
                side_channel.measure_side_channel(
                    session.active_unit_counts(),
                    data.y_train,
                    data.n_classes,
                    ex.side_channel.seed,
                )
            )
        return out


def _butterfly(session: Session) -> dict[str, float]:
    twin = session.twins[0]
    base = session.runs[0]
    dw = abs(twin.run.network.flat_params.astype(float) - base.network.flat_params.astype(float))
    if twin.disagreement:
        loss_difference, disagreement = twin.loss_difference[-1], twin.disagreement[-1]
    else:  # before the first epoch: measure the freshly built pair directly
        a, b = run_figures(base), run_figures(twin.run)
        loss_difference = abs(a["train.loss"] - b["train.loss"])
        disagreement = region_changed(base.network, twin.run.network, session.extent, DIFF_GRID)
    return {
        "butterfly.max_abs_dw": float(dw.max(initial=0.0)),
        "butterfly.loss_difference": float(loss_difference),
        "butterfly.disagreement": float(disagreement),
        "butterfly.peak_disagreement": float(max(twin.disagreement, default=disagreement)),
        "butterfly.first_divergence_epoch": float(butterfly.first_divergence(twin.max_abs_dw)),
    }
