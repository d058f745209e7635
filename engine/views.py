"""Building a ``Snapshot``: a plain-data copy of a session, what the app and reports read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine.config import fit_grid
from engine.experiments import measure
from engine.metrics import Extent, evaluate_grid, gradient_norms
from engine.run import Array
from engine.snapshot import EditView, LayerView, MomentView, ProbeView, RunView, Snapshot
from engine.twins import DIFFERENCE, Slot

if TYPE_CHECKING:
    from engine.session import Session

HISTORY_POINTS = 2000
"""Most points of each history a snapshot carries (views draw at most a few hundred)."""


def take_snapshot(
    session: Session,
    grid: tuple[int, int] | None = None,
    extent: Extent | None = None,
    *,
    grid_runs: Sequence[int] | None = None,
    experiments: bool = True,
    history_points: int = HISTORY_POINTS,
) -> Snapshot:
    """A plain-data copy of the session now.

    Args:
        grid: (width, height) cells over which to evaluate output and hidden activations,
            or None for no grid.
        extent: The rectangle the grid covers; defaults to the scenario's display range.
        grid_runs: Indices of the runs to evaluate the grid for (those on screen);
            default all.
        experiments: Whether to measure the experiments (their views and metrics).
        history_points: Most points of each history (a downsampled copy).
    """
    with session.lock, np.errstate(all="ignore"):
        area = extent or session.extent
        wanted = set(range(len(session.slots)) if grid_runs is None else grid_runs)
        if grid is not None:  # a large picture of a large model: a coarser grid
            grid = fit_grid(grid, session.baseline.network.flat_params.size, len(wanted))
        runs = tuple(
            run_view(session, slot, grid if i in wanted else None, area, history_points)
            for i, slot in enumerate(session.slots)
        )
        sc = session.scenario
        session.picture = (area, grid) if grid else None
        try:
            views = measure.views(session) if experiments else ()
        finally:
            session.picture = None
        metrics = measure.base_metrics(session, runs[0])
        for v in views:
            metrics.update(v.metrics())
        keys = session.keys()
        view = sc.display.view
        return Snapshot(
            revision=session.revision,
            measured=0 if session.background is None else session.background.landed,
            measuring=session.background is not None and session.background.busy,
            scenario=sc.name,
            title=sc.title or sc.name,
            description=sc.description.strip(),
            epoch=session.epoch,
            target_epochs=sc.training.epochs,
            seed=sc.training.seed,
            learning_rate=session.baseline.train_config.learning_rate,
            runs=runs,
            drifts=tuple(session.drift(i, history_points) for i in range(len(session.twins))),
            x_train=session.data.x_train,
            y_train=session.data.y_train,
            x_test=session.data.x_test,
            y_test=session.data.y_test,
            n_classes=session.data.n_classes,
            flipped=session.flipped.copy(),
            probes=tuple(ProbeView(p.name, p.point, session.probe(*p.point)) for p in sc.probes),
            extent=session.extent,
            view=view if view in keys or view == DIFFERENCE else "",
            compare=session.compare_pair(),
            experiments=views,
            metrics=metrics,
            moments=tuple(
                MomentView(epoch, m.describe(), m.caption) for epoch, m in session.moments
            ),
            blowup=session.blowup,
            features=session.features(),
            head=session.head,
            edits=tuple(EditView(epoch, text) for epoch, text in session.edits()),
            added=session.marks.added.copy(),
            relabelled=session.marks.relabelled.copy(),
            training=session.baseline.train_config.model_dump(),
        )


def run_view(
    session: Session, slot: Slot, grid: tuple[int, int] | None, area: Extent, points: int
) -> RunView:
    """One run of the session as plain data."""
    run = slot.run
    net = run.network
    # One pass over the training inputs serves neuron status, outputs and the loss.
    *hidden, outputs = net.predict_all(run.trainer.x)
    figures = measure.run_figures(run, outputs)
    norms = gradient_norms(net)
    layers = []
    for i, layer in enumerate(net.layers):
        status: tuple[str, ...] = ("ok",) * layer.n_out
        if i < len(hidden):
            status = neuron_status(layer.activation.name, hidden[i])
        layers.append(
            LayerView(
                n_in=layer.n_in,
                n_out=layer.n_out,
                activation=layer.activation.name,
                weight=layer.weight.astype(np.float64),
                bias=None if layer.bias is None else layer.bias.astype(np.float64),
                status=status,
                grad_norm=norms[i],
                grad_weight=layer.grad_weight.astype(np.float64),
                grad_bias=None if layer.grad_bias is None else layer.grad_bias.astype(float),
            )
        )
    history = session.history(slot.key, points)
    latest = run.latest
    return RunView(
        key=slot.key,
        label=slot.label,
        dtype=str(net.dtype),
        epoch=run.epoch,
        train_loss=figures["train.loss"],
        train_accuracy=figures["train.accuracy"],
        test_loss=figures["test.loss"],
        test_accuracy=figures["test.accuracy"],
        noop_share=latest.noop_share if latest else 0.0,
        underflow=run.last.underflow if run.last else None,
        nonfinite=latest.nonfinite if latest else 0,
        blowup=run.blowup,
        layers=tuple(layers),
        history=history,
        train_outputs=outputs.astype(np.float64),
        grid=evaluate_grid(net, area, *grid) if grid else None,
        slices=(evaluate_grid(net, area, *grid, extra=(1.0,)),)
        if grid and net.layers[0].n_in > 2
        else (),
    )


def neuron_status(activation: str, outputs: Array) -> tuple[str, ...]:
    """'dead', 'saturated' or 'ok' for each hidden unit, from its outputs on the training set.

    Args:
        activation: The layer's activation name.
        outputs: (n, units) activations on the training inputs.
    """
    a = outputs.astype(np.float64)
    if activation == "relu":
        dead = ~np.any(a > 0, axis=0)
        return tuple("dead" if d else "ok" for d in dead)
    if activation in ("sigmoid", "tanh"):
        low, high = (0.02, 0.98) if activation == "sigmoid" else (-0.96, 0.96)
        share = np.mean((a < low) | (a > high), axis=0)
        return tuple("saturated" if s >= 0.9 else "ok" for s in share)
    return ("ok",) * a.shape[1]
