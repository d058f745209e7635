"""One training step on one point, explained: forward, loss, backward, update, with numbers.

Everything shown is computed by the engine itself on a copy of a run: the copy's layers do
the forward and backward passes, the run's loss gives the value, and an optimiser with the
run's settings and state makes the update. This module only arranges those numbers into
lines, one formula per line; it never computes a gradient of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.layers import Dense
from engine.network import Network
from engine.optim import Optimizer
from engine.run import Run
from engine.training import encode_targets

Array = npt.NDArray[np.floating]
SHOWN = 12
"""Most neurons or parameters listed per layer (a selected neuron is always listed)."""


@dataclass(frozen=True)
class Stage:
    """One stage of the step: a title and its lines."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """A step on one point, in stages, with the numbers it shows."""

    point: tuple[float, float]
    label: int
    source: str
    """'the probe point' or 'training point 17'."""
    stages: tuple[Stage, ...]
    loss: float
    grads: tuple[tuple[Array, Array | None], ...]
    """(dL/dW, dL/db) per layer, in the run's dtype."""
    old: Array
    """Every parameter before the update (flat, the network's order)."""
    step: Array
    """What the optimiser subtracted (from its float32 master copy, with master weights)."""
    new: Array
    """Every parameter after the update."""


@dataclass(frozen=True)
class _Kept:
    """One layer's values of the step, copied the moment they are computed (the engine reuses
    its arrays, so later calls would overwrite them)."""

    activation: str
    n_in: int
    n_out: int
    x: Array
    z: Array
    a: Array
    weight: Array
    bias: Array | None
    grad_z: Array
    grad_weight: Array
    grad_bias: Array | None
    upstream: Array | None
    """dL/da (None for a fused output)."""
    slope: Array | None
    """f'(z) for element-wise activations (None for softmax)."""


def _n(value: float) -> str:
    return f"{value + 0.0:.5g}"  # + 0.0 turns -0.0 into 0.0


def _copy(network: Network) -> Network:
    layers = [
        Dense(
            layer.weight.copy(), None if layer.bias is None else layer.bias.copy(), layer.activation
        )
        for layer in network.layers
    ]
    return Network(layers, network.loss)


def _shown(count: int, focus: int | None) -> list[int]:
    """The neurons listed: the focused one first, then the first ones, SHOWN in all."""
    picked = list(range(min(count, SHOWN)))
    if focus is not None and 0 <= focus < count:
        picked = [focus, *(j for j in picked if j != focus)][: len(picked)]
    return picked


def _p(value: float) -> str:
    """A factor of a product: negative numbers in brackets."""
    return f"({_n(value)})" if value < 0 else _n(value)


def _plus(value: float) -> str:
    """A term added at the end: ' + 0.3' or ' − 0.3'."""
    return f" − {_n(-value)}" if value < 0 else f" + {_n(value)}"


def _name(layer: int, unit: int, layers: int) -> str:
    return "out" if layer == layers - 1 and unit == 0 else f"L{layer + 1}.{unit + 1}"


def explain_step(
    run: Run,
    point: tuple[float, float],
    label: int,
    *,
    source: str = "the probe point",
    focus: tuple[int, int] | None = None,
) -> Explanation:
    """Walk one optimiser step of ``run`` on the single example (point, label).

    Args:
        run: The run whose weights, loss and optimiser (settings and state) are used; it is
            not changed.
        point: The input.
        label: Its class (the target).
        source: How the point is named.
        focus: (layer, neuron) always listed, however wide its layer.

    Returns:
        The stages and the numbers behind them.
    """
    with np.errstate(all="ignore"):
        return _explain(run, point, label, source, focus)


def _explain(
    run: Run,
    point: tuple[float, float],
    label: int,
    source: str,
    focus: tuple[int, int] | None,
) -> Explanation:
    net = _copy(run.network)
    dtype = net.dtype
    x = np.array([point], dtype=dtype)
    target = encode_targets(np.array([label], dtype=np.int64), net)
    p = net.forward(x)
    loss = net.loss.value(p, target)
    net.backward(target)
    kept = _keep(net, target)
    grads = tuple((k.grad_weight, k.grad_bias) for k in kept)
    before = (
        Stage("Forward", tuple(_forward(kept, point, focus))),
        Stage("Loss", tuple(_loss(net, p, target, label, loss))),
        Stage("Backward", tuple(_backward(net, kept, focus))),
    )
    old = net.flat_params.copy()
    optimizer = Optimizer(run.train_config, net.flat_params, net.is_weight)
    optimizer.set_state(run.optimizer.state())
    optimizer.step(net.flat_grads)
    assert optimizer.last_step is not None
    step = np.asarray(optimizer.last_step).copy()
    new = net.flat_params.copy()
    stages = (*before, Stage("Update", tuple(_update(run, net, old, step, new, focus))))
    return Explanation(point, label, source, stages, float(loss), grads, old, step, new)


def _keep(net: Network, target: Array) -> list[_Kept]:
    """Copies of every layer's values after the backward pass, with each layer's dL/da and
    f'(z), from the engine's own layer and activation code."""
    values = []
    for layer in net.layers:
        assert layer.x is not None and layer.z is not None and layer.a is not None
        assert layer.grad_z is not None
        values.append(
            (
                layer.x.copy(),
                layer.z.copy(),
                layer.a.copy(),
                layer.grad_z.copy(),
                layer.grad_weight.copy(),
                None if layer.grad_bias is None else layer.grad_bias.copy(),
            )
        )
    count = len(net.layers)
    kept = []
    for i, layer in enumerate(net.layers):
        x, z, a, grad_z, grad_weight, grad_bias = values[i]
        if i < count - 1:
            above = net.layers[i + 1]
            # dL/da of this layer: the layer above's own backward step, from its dL/dz.
            up = above.backward(None, grad_z=values[i + 1][3].copy())
            upstream: Array | None = None if up is None else np.array(up, copy=True)
        elif net.fused:
            upstream = None
        else:
            upstream = np.array(net.loss.gradient(a, target), copy=True)
        softmax = layer.activation.name == "softmax"
        ones = np.ones_like(z)
        slope = None if softmax else np.array(layer.activation.backward(z, a, ones), copy=True)
        kept.append(
            _Kept(
                layer.activation.name,
                layer.n_in,
                layer.n_out,
                x,
                z,
                a,
                layer.weight.copy(),
                None if layer.bias is None else layer.bias.copy(),
                grad_z,
                grad_weight,
                grad_bias,
                upstream,
                slope,
            )
        )
    return kept


def _focus(focus: tuple[int, int] | None, layer: int) -> int | None:
    return focus[1] if focus is not None and focus[0] == layer else None


def _forward(
    kept: list[_Kept], point: tuple[float, float], focus: tuple[int, int] | None
) -> list[str]:
    count = len(kept)
    lines = [f"input x = ({_n(point[0])}, {_n(point[1])})"]
    for i, layer in enumerate(kept):
        f = layer.activation
        bias = " + bⱼ" if layer.bias is not None else ""
        lines.append(f"layer {i + 1} ({f}): zⱼ = Σᵢ xᵢ·Wᵢⱼ{bias}, aⱼ = {f}(zⱼ)")
        inputs = layer.x[0].tolist()
        for j in _shown(layer.n_out, _focus(focus, i)):
            weights = layer.weight[:, j].tolist()
            if len(inputs) <= 3:
                terms = " + ".join(f"{_p(v)}·{_p(w)}" for v, w in zip(inputs, weights, strict=True))
            else:
                terms = f"Σ of {len(inputs)} products"
            if layer.bias is not None:
                terms += _plus(float(layer.bias[j]))
            z, a = float(layer.z[0, j]), float(layer.a[0, j])
            lines.append(
                f"  {_name(i, j, count)}: z = {terms} = {_n(z)}   a = {f}({_n(z)}) = {_n(a)}"
            )
        if layer.n_out > SHOWN:
            lines.append(f"  … and {layer.n_out - SHOWN} more neurons")
    return lines


def _loss(net: Network, p: Array, target: Array, label: int, loss: float) -> list[str]:
    name = net.loss.name
    out = p[0].tolist()
    lines = [f"target: class {label}  (y = {', '.join(_n(v) for v in target[0].tolist())})"]
    if name == "binary_cross_entropy":
        y = float(target[0, 0])
        lines.append(
            f"L = −(y·log p + (1−y)·log(1−p)) = −({_n(y)}·log {_n(out[0])} + "
            f"{_n(1 - y)}·log {_n(1 - out[0])}) = {_n(loss)}"
        )
    elif name == "softmax_cross_entropy":
        lines.append(f"L = −log p_y = −log {_n(out[label])} = {_n(loss)}")
    else:
        diffs = " + ".join(
            f"({_n(a)} − {_n(b)})²" for a, b in zip(out, target[0].tolist(), strict=True)
        )
        lines.append(f"L = ½·Σ(p − y)² = ½·({diffs}) = {_n(loss)}")
    lines.append(f"({name}, computed by the run's own loss in {net.dtype})")
    return lines


def _backward(net: Network, kept: list[_Kept], focus: tuple[int, int] | None) -> list[str]:
    count = len(kept)
    lines = []
    if net.fused:
        lines.append(
            f"output: δ = ∂L/∂z = p − y  ({kept[-1].activation} and {net.loss.name}: "
            "the activation's derivative cancels the loss's denominator)"
        )
    else:
        lines.append("output: δ = ∂L/∂a · f′(z)")
    lines += _deltas(kept, count - 1, focus)
    for i in range(count - 2, -1, -1):
        f = kept[i].activation
        lines.append(f"layer {i + 1}: δⱼ = (Σₖ Wⱼₖ·δₖ) · {f}′(zⱼ)")
        lines += _deltas(kept, i, focus)
    lines.append("gradients: ∂L/∂Wᵢⱼ = xᵢ·δⱼ   ∂L/∂bⱼ = δⱼ")
    for i, layer in enumerate(kept):
        for j in _shown(layer.n_out, _focus(focus, i))[:4]:
            delta = float(layer.grad_z[0, j])
            for r in range(min(layer.n_in, 3)):
                xi = float(layer.x[0, r])
                g = float(layer.grad_weight[r, j])
                lines.append(
                    f"  ∂L/∂W[x{r + 1}→{_name(i, j, count)}] = {_p(xi)}·{_p(delta)} = {_n(g)}"
                )
            if layer.grad_bias is not None:
                lines.append(f"  ∂L/∂b[{_name(i, j, count)}] = {_n(float(layer.grad_bias[j]))}")
    return lines


def _deltas(kept: list[_Kept], i: int, focus: tuple[int, int] | None) -> list[str]:
    """The error signal of layer i, each as upstream · f′(z) when it factors that way."""
    layer = kept[i]
    count = len(kept)
    lines = []
    for j in _shown(layer.n_out, _focus(focus, i)):
        delta = float(layer.grad_z[0, j])
        if layer.upstream is not None and layer.slope is not None:
            lines.append(
                f"  {_name(i, j, count)}: δ = {_p(float(layer.upstream[0, j]))}·"
                f"{_p(float(layer.slope[0, j]))} = {_n(delta)}"
            )
        else:
            lines.append(f"  {_name(i, j, count)}: δ = {_n(delta)}")
    if layer.n_out > SHOWN:
        lines.append(f"  … and {layer.n_out - SHOWN} more")
    return lines


def _rule(run: Run) -> str:
    c = run.train_config
    grad = "g"
    if c.l1 or c.l2:
        grad = "(g + λ₂w + λ₁·sign w)"
    if c.optimizer == "momentum":
        return f"v ← {c.momentum:g}·v + {grad};  w ← w − {c.learning_rate:g}·v"
    if c.optimizer == "adam":
        return (
            f"m ← β₁m + (1−β₁){grad}; v ← β₂v + (1−β₂){grad}²; "
            f"w ← w − {c.learning_rate:g}·m̂/(√v̂ + ε)"
        )
    return f"w ← w − {c.learning_rate:g}·{grad}"


def _update(
    run: Run,
    net: Network,
    old: Array,
    step: Array,
    new: Array,
    focus: tuple[int, int] | None,
) -> list[str]:
    count = len(net.layers)
    c = run.train_config
    lines = [f"{c.optimizer}: {_rule(run)}   (g = ∂L/∂w)"]
    if run.optimizer.master is not None:
        lines.append("the step lands on the float32 master copy, then rounds to float16")
    offset = 0
    for i, layer in enumerate(net.layers):
        rows = layer.n_in
        picked = _shown(layer.n_out, _focus(focus, i))[:4]
        entries: list[tuple[str, int]] = []
        for j in picked:
            for r in range(min(rows, 3)):
                entries.append((f"W[x{r + 1}→{_name(i, j, count)}]", offset + r * layer.n_out + j))
        bias_at = offset + layer.weight.size
        if layer.bias is not None:
            entries += [(f"b[{_name(i, j, count)}]", bias_at + j) for j in picked]
        for name, k in entries:
            rounded = " (rounded away: no change)" if step[k] != 0 and new[k] == old[k] else ""
            lines.append(
                f"  {name}: {_n(float(old[k]))} − {_p(float(step[k]))} → "
                f"{_n(float(new[k]))}{rounded}"
            )
        offset = bias_at + (layer.bias.size if layer.bias is not None else 0)
    unchanged = int(np.count_nonzero((step != 0) & (new == old)))
    lines.append(f"{old.size} parameters updated; {unchanged} steps rounded away")
    return lines
