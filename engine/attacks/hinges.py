"""Recovering a one-hidden-layer ReLU network's hinges from its raw output alone.

A network ``f(x) = v · relu(W x + b) + c`` is linear everywhere except on the lines where one
hidden unit switches on or off, ``w_i · x + b_i = 0``: its hinges. Along any straight query
line ``f`` is piecewise linear, and its kinks are the points where the line crosses a hinge
(the critical points of Jagielski et al. 2020 and Carlini et al. 2020). The attacker

1. samples ``f`` densely along random lines through the plane and finds where its second
   difference is not zero: a kink lies near there;
2. puts the kink exactly where the straight pieces on either side of it meet;
3. reads the gradient of ``f`` on both sides of the kink (finite differences, exact for a
   piecewise linear function as long as they stay on one piece). The gradient jumps by
   ``v_i w_i``: its direction is the hinge's normal and its length ``|v_i| ‖w_i‖``;
4. groups the critical points by the line they lie on: one group per unit found.

What comes back is each unit's hinge line, that is ``(w_i, b_i)`` up to a positive scale and a
sign, and ``|v_i| ‖w_i‖``. The scale is lost for good (``relu`` is positively homogeneous:
``v relu(w x + b) = (v / s) relu(s w x + s b)``), and so, locally, is the sign: a unit that
is on where ``w_i · x + b_i > 0`` and one that is on across the other side differ only by a
linear term. Units dead over the searched region have no hinge there and are not found.

The attacker reads the raw output, the logit before the sigmoid, as the papers assume;
through rounded probabilities the kinks far from the boundary drown in rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.metrics import Extent, plane_inputs
from engine.network import Network

Floats = npt.NDArray[np.float64]

SAMPLES = 256
"""Points sampled along each query line."""
REACH = 1.0
"""How far past the display range the lines reach, as a share of its width and height."""
KINK_TOLERANCE = 1e-9
"""A second difference counts as a kink above this times the output's scale."""
SIDE_STEP = 1e-4
"""Distance from a kink, as a share of the sampling step, at which each side's gradient is
read; far inside the pieces the kink separates."""
SAME_LINE = 1e-4
"""Two critical points belong to one hinge when their normals and offsets differ by less."""
MIN_POINTS = 2
"""Critical points, on different query lines, a hinge needs: a lone one is not trusted (two
kinks close together on one line give a point on neither hinge)."""
MATCH = 1e-3
"""A recovered hinge matches a true one when angle (radians) and offset differ by less."""


def is_hinged(network: Network) -> bool:
    """Whether the method applies: one hidden ReLU layer, one output unit, biases."""
    layers = network.layers
    return (
        len(layers) == 2
        and layers[0].activation.name == "relu"
        and layers[1].n_out == 1
        and all(layer.bias is not None for layer in layers)
    )


def logit(network: Network, x: Floats) -> Floats:
    """The victim's raw output (before its output activation) at each row of ``x``: the oracle.

    The victim computes it with its own layers; the attacker sees only the numbers.
    """
    inputs = plane_inputs(x, network.layers[0].n_in).astype(network.dtype)
    with np.errstate(all="ignore"):
        hidden = network.predict_all(inputs)[0]
    weight, bias = network.weights()[-1]
    assert bias is not None
    return (hidden @ weight + bias)[:, 0].astype(np.float64)


@dataclass(frozen=True)
class Hinge:
    """One hidden unit's hinge line, ``normal · x = offset`` with ``‖normal‖ = 1``."""

    normal: tuple[float, float]
    offset: float
    jump: float
    """``|v_i| ‖w_i‖``: how much the output's gradient changes across the line."""
    points: int
    """Critical points found on it."""


@dataclass(frozen=True)
class HingeRecovery:
    """What the attacker recovered, and how it compares with the true weights."""

    hinges: tuple[Hinge, ...]
    queries: int
    """Outputs the attacker asked for."""
    critical_points: Floats
    """Every critical point found, (n, 2)."""
    live_units: int
    """True units whose hinge crosses the searched region and that change the output."""
    matched: int
    """Of those, how many a recovered hinge matches."""
    angle_error: float
    """Largest angle (radians) between a matched hinge's normal and the true one."""
    offset_error: float
    """Largest distance between a matched hinge's offset and the true one."""
    jump_error: float
    """Largest relative error of a matched hinge's ``|v_i| ‖w_i‖``."""


def canonical(normal: Floats, offset: float) -> tuple[Floats, float]:
    """The line ``normal · x = offset`` with a unit normal whose angle lies in [0, π)."""
    length = float(np.hypot(normal[0], normal[1]))
    n, c = normal / length, offset / length
    if n[1] < 0 or (n[1] == 0 and n[0] < 0):
        n, c = -n, -c
    return n, c


def true_hinges(network: Network) -> list[tuple[Floats, float, float]]:
    """(unit normal, offset, ``|v_i| ‖w_i‖``) of each unit with a hinge and a say in the output."""
    (w1, b1), (w2, _) = network.weights()
    assert b1 is not None
    out = []
    for i in range(w1.shape[1]):
        w = w1[:2, i].astype(np.float64)  # the plane: any further inputs are 0 on it
        norm = float(np.hypot(w[0], w[1]))
        v = float(w2[i, 0])
        if norm == 0 or v == 0:
            continue
        n, c = canonical(w, -float(b1[i]))
        out.append((n, c, abs(v) * norm))
    return out


def _gradients(network: Network, points: Floats, h: float) -> Floats:
    """The output's gradient at each point by forward differences (exact on a linear piece)."""
    dx, dy = np.array([h, 0.0]), np.array([0.0, h])
    probes = np.concatenate([points, points + dx, points + dy])
    f = logit(network, probes).reshape(3, len(points))
    return np.stack([(f[1] - f[0]) / h, (f[2] - f[0]) / h], axis=1)


def recover(network: Network, extent: Extent, lines: int, seed: int) -> HingeRecovery:
    """Search ``lines`` random query lines for critical points and group them into hinges.

    Args:
        network: The victim (see ``is_hinged``); only its outputs are read.
        extent: The display range; the lines reach ``REACH`` of its size beyond it.
        lines: Query lines to search.
        seed: Seed of the lines.
    """
    rng = np.random.default_rng(seed)
    width, height = extent.x_max - extent.x_min, extent.y_max - extent.y_min
    low = np.array([extent.x_min - REACH * width, extent.y_min - REACH * height])
    high = np.array([extent.x_max + REACH * width, extent.y_max + REACH * height])
    starts = rng.uniform(low, high, size=(lines, 2))
    ends = rng.uniform(low, high, size=(lines, 2))
    t = np.linspace(0.0, 1.0, SAMPLES)
    x = starts[:, None, :] + t[None, :, None] * (ends - starts)[:, None, :]
    f = logit(network, x.reshape(-1, 2)).reshape(lines, SAMPLES)
    queries = f.size
    dt = t[1] - t[0]
    second = f[:, 2:] - 2 * f[:, 1:-1] + f[:, :-2]  # second[j] is centred on sample j + 1
    scale = KINK_TOLERANCE * (1.0 + float(np.max(np.abs(f))))
    kinked = np.abs(second) > scale
    # A kink inside (t_j, t_j+1) bends the second differences centred on j and j + 1; one on
    # a sample bends only its own. Take the straight pieces two samples out on either side.
    line_idx, centre = np.nonzero(kinked)
    centre = centre + 1
    keep = (centre >= 3) & (centre <= SAMPLES - 4)
    line_idx, centre = line_idx[keep], centre[keep]
    fl = f[line_idx]
    left_slope = fl[np.arange(len(centre)), centre - 2] - fl[np.arange(len(centre)), centre - 3]
    right_slope = fl[np.arange(len(centre)), centre + 3] - fl[np.arange(len(centre)), centre + 2]
    rows = np.arange(len(centre))
    bend = left_slope - right_slope
    ok = np.abs(bend) > scale
    with np.errstate(all="ignore"):
        # Where f_left(s) = f[c-2] + ls (s - (c-2)) meets f_right(s) = f[c+2] + rs (s - (c+2)).
        s = (
            fl[rows, centre + 2]
            - fl[rows, centre - 2]
            - right_slope * (centre + 2)
            + left_slope * (centre - 2)
        ) / bend
    ok &= (s > centre - 2) & (s < centre + 2)
    line_idx, s = line_idx[ok], s[ok]
    # The two centres beside one kink find it twice: keep one per line and place.
    order = np.lexsort((s, line_idx))
    line_idx, s = line_idx[order], s[order]
    fresh = np.ones(len(s), dtype=bool)
    fresh[1:] = (line_idx[1:] != line_idx[:-1]) | (np.diff(s) > 1e-6)
    line_idx, s = line_idx[fresh], s[fresh]
    along = ends[line_idx] - starts[line_idx]
    points = starts[line_idx] + (s * dt)[:, None] * along
    # Each side's gradient, read a small step from the kink along the query line.
    step = (SIDE_STEP * dt) * along
    h = SIDE_STEP * dt * float(min(width, height)) / 10
    before = _gradients(network, points - step, h)
    after = _gradients(network, points + step, h)
    queries += 6 * len(points)
    jump = after - before
    length = np.hypot(jump[:, 0], jump[:, 1])
    found = length > 1e-6 * (1.0 + float(length.max(initial=0.0)))
    points, jump, length = points[found], jump[found], length[found]
    hinges = _group(points, jump, length)
    return _compare(network, extent, hinges, queries, points)


def _group(points: Floats, jump: Floats, length: Floats) -> tuple[Hinge, ...]:
    """One hinge per set of critical points lying on one line, most points first."""
    lines = [canonical(j, float(j @ p)) for p, j in zip(points, jump, strict=True)]
    groups: list[list[int]] = []
    for i, (n, c) in enumerate(lines):
        for group in groups:
            n0, c0 = lines[group[0]]
            if np.hypot(*(n - n0)) < SAME_LINE and abs(c - c0) < SAME_LINE * (1 + abs(c0)):
                group.append(i)
                break
        else:
            groups.append([i])
    hinges = []
    for group in groups:
        if len(group) < MIN_POINTS:  # a query line almost along a hinge: its sides blur
            continue
        normals = np.array([lines[i][0] for i in group])
        n = normals.mean(axis=0)
        n /= np.hypot(n[0], n[1])
        c = float(np.mean([lines[i][1] for i in group]))
        size = float(np.median(length[group]))
        hinges.append(Hinge((float(n[0]), float(n[1])), c, size, len(group)))
    hinges.sort(key=lambda g: -g.points)
    return tuple(hinges)


def _compare(
    network: Network, extent: Extent, hinges: tuple[Hinge, ...], queries: int, points: Floats
) -> HingeRecovery:
    """Match each true live hinge with the nearest recovered one."""
    live = [h for h in true_hinges(network) if _crosses(h[0], h[1], extent)]
    matched = 0
    angle = offset = jump = 0.0
    for n, c, size in live:
        best: tuple[float, float, Hinge] | None = None
        for g in hinges:
            dot = float(np.dot(n, g.normal))
            sign = 1.0 if dot >= 0 else -1.0  # canonical forms may differ in sign near 0 and π
            a = math.acos(min(1.0, abs(dot)))
            off = abs(sign * g.offset - c)
            if a < MATCH and off < MATCH * (1 + abs(c)) and (best is None or a < best[0]):
                best = (a, off, g)
        if best is None:
            continue
        matched += 1
        angle, offset = max(angle, best[0]), max(offset, best[1])
        jump = max(jump, abs(best[2].jump - size) / size)
    return HingeRecovery(hinges, queries, points, len(live), matched, angle, offset, jump)


def _crosses(normal: Floats, offset: float, extent: Extent) -> bool:
    """Whether the line ``normal · x = offset`` passes through the searched region."""
    width, height = extent.x_max - extent.x_min, extent.y_max - extent.y_min
    xs = (extent.x_min - REACH * width, extent.x_max + REACH * width)
    ys = (extent.y_min - REACH * height, extent.y_max + REACH * height)
    values = [normal[0] * x + normal[1] * y - offset for x in xs for y in ys]
    return min(values) < 0 < max(values)
