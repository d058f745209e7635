"""Evasion: moving an input a little so the network changes its answer.

FGSM takes one step of size eps along the sign of the loss's input gradient (Goodfellow et
al., 2015). PGD takes several smaller steps, each projected back into the ball of radius eps
around the original input, optionally from a random start inside the ball (Madry et al.,
2018); in the L-inf ball a step follows the gradient's sign, in the L2 ball its direction.
The minimal distance to flip a point's class is found by DeepFool's linearisation
(Moosavi-Dezfooli et al., 2016): replace the network by its tangent plane at the point, step
to that plane's boundary, and repeat until the class changes. For a network without hidden
layers the first step lands exactly on the boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.attacks.gradients import logit_jacobian, loss_input_gradient
from engine.metrics import predicted_classes
from engine.network import Network
from engine.run import Run
from engine.scenario import EvasionConfig
from engine.training import encode_targets

Array = npt.NDArray[np.floating]
Labels = npt.NDArray[np.int64]
Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class Attack:
    """How an attack is run."""

    eps: float
    """Radius of the ball the perturbation stays in."""
    norm: Norm = "linf"
    step: float = 0.0
    """Size of one PGD step; 0 means 2.5 * eps / iterations."""
    iterations: int = 10
    """PGD steps; 1 with no random start and step = eps is FGSM."""
    random_start: bool = False


def _step_size(attack: Attack) -> float:
    return attack.step if attack.step > 0 else 2.5 * attack.eps / max(attack.iterations, 1)


def _direction(grad: Array, norm: Norm) -> Array:
    """The steepest-ascent direction of unit size in the norm: sign, or the unit vector."""
    if norm == "linf":
        return np.sign(grad)
    length = np.linalg.norm(grad, axis=1, keepdims=True)
    return grad / np.where(length > 0, length, 1)


def project(delta: Array, eps: float, norm: Norm) -> Array:
    """The nearest perturbation to ``delta`` with norm at most eps (row by row)."""
    if norm == "linf":
        return np.clip(delta, -eps, eps)
    length = np.linalg.norm(delta, axis=1, keepdims=True)
    return delta * np.minimum(1.0, eps / np.where(length > 0, length, 1))


def fgsm(network: Network, x: Array, targets: Array, eps: float) -> Array:
    """x + eps * sign(d loss / dx): one step that raises each example's loss the most in L-inf."""
    return x + eps * np.sign(loss_input_gradient(network, x, targets))


def random_in_ball(
    shape: tuple[int, int], eps: float, norm: Norm, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Uniform random perturbations inside the ball."""
    if norm == "linf":
        return rng.uniform(-eps, eps, size=shape)
    direction = rng.standard_normal(shape)
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
    radius = eps * rng.uniform(0, 1, size=(shape[0], 1)) ** (1 / shape[1])
    return direction * radius


def pgd(
    network: Network,
    x: Array,
    targets: Array,
    attack: Attack,
    rng: np.random.Generator | None = None,
) -> Array:
    """Projected gradient ascent on each example's loss inside its eps-ball.

    Args:
        network: The model attacked (its weights are not touched).
        x: (n, inputs) the inputs.
        targets: Their targets as the loss expects them.
        attack: eps, norm, step, iterations, random start.
        rng: Random source of the random start (needed only then).

    Returns:
        (n, inputs) adversarial inputs, each within eps of its original.
    """
    if attack.eps <= 0 or len(x) == 0:
        return x.copy()
    delta = np.zeros_like(x)
    if attack.random_start:
        assert rng is not None
        delta = random_in_ball(x.shape, attack.eps, attack.norm, rng).astype(x.dtype)
    step = _step_size(attack)
    for _ in range(attack.iterations):
        grad = loss_input_gradient(network, x + delta, targets)
        delta = project(delta + step * _direction(grad, attack.norm), attack.eps, attack.norm)
    return x + delta


def adversarial_training_transform(
    network: Network, attack: Attack, rng: np.random.Generator
) -> Callable[[Array, Array], Array]:
    """A ``Trainer.input_transform`` that replaces each batch by its PGD examples."""

    def transform(xb: Array, targets: Array) -> Array:
        with np.errstate(all="ignore"):
            return pgd(network, xb, targets, attack, rng).astype(xb.dtype)

    return transform


def attack_outcome(
    network: Network, x: Array, y: Labels, attack: Attack, rng: np.random.Generator | None = None
) -> tuple[Array, Labels]:
    """The adversarial inputs and the classes the network gives them."""
    targets = encode_targets(y, network)
    with np.errstate(all="ignore"):
        adversarial = pgd(network, x.astype(network.dtype), targets, attack, rng)
        return adversarial, predicted_classes(network.predict(adversarial))


def robust_accuracy_curve(
    network: Network,
    x: Array,
    y: Labels,
    attack: Attack,
    eps_values: npt.NDArray[np.float64],
    seed: int,
) -> npt.NDArray[np.float64]:
    """Accuracy on (x, y) under the attack at each eps (the same settings otherwise)."""
    out = np.empty(len(eps_values))
    for i, eps in enumerate(eps_values.tolist()):
        run = Attack(eps, attack.norm, attack.step * eps / attack.eps if attack.eps else 0.0,
                     attack.iterations, attack.random_start)  # fmt: skip
        _, classes = attack_outcome(network, x, y, run, np.random.default_rng(seed))
        out[i] = float(np.mean(classes == y)) if len(y) else float("nan")
    return out


def _boundary_threshold(network: Network) -> float:
    """The output pre-activation at which a single output changes class (p = 0.5)."""
    return 0.0 if network.layers[-1].activation.name == "sigmoid" else 0.5


def minimal_flip(
    network: Network, x: Array, *, iterations: int = 50, overshoot: float = 0.02
) -> tuple[npt.NDArray[np.float64], Array]:
    """DeepFool: the smallest L2 step found that changes each point's predicted class.

    Each iteration replaces the network by its linearisation at the current point and steps
    to the nearest class boundary of that linearisation (for a single output, the plane where
    the output's pre-activation reaches its threshold; for softmax, the nearest of the planes
    z_k = z_c to another class k). The step is checked with a small overshoot.

    Returns:
        (distances, points): the L2 length of the accumulated step (without overshoot), NaN
        where no flip was found within ``iterations``; and the points reached.
    """
    x = x.astype(network.dtype)
    start = predicted_classes(network.predict(x))
    total = np.zeros_like(x)
    done = np.zeros(len(x), dtype=bool)
    single = network.layers[-1].n_out == 1
    threshold = _boundary_threshold(network)
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            active = ~done
            if not active.any():
                break
            z, jac = logit_jacobian(network, x[active] + total[active])
            if single:
                f = z[:, 0] - threshold
                w = jac[:, 0, :]
            else:
                c = start[active]
                rows = np.arange(len(c))
                f_all = z - z[rows, c][:, None]
                w_all = jac - jac[rows, c][:, None, :]
                size = np.abs(f_all) / np.maximum(np.linalg.norm(w_all, axis=2), 1e-300)
                size[rows, c] = np.inf
                k = size.argmin(axis=1)
                f, w = f_all[rows, k], w_all[rows, k]
            w2 = np.maximum(np.einsum("ij,ij->i", w, w), 1e-300)
            total[active] += (-f / w2)[:, None] * w  # to the tangent plane's zero: f + w.r = 0
            moved = x + total * (1 + overshoot)
            done = predicted_classes(network.predict(moved)) != start
        total = first_crossing(network, x, total * (1 + overshoot), start)
    distances = np.linalg.norm(total.astype(np.float64), axis=1)
    distances[~done] = np.nan
    return distances, x + total


def first_crossing(
    network: Network, x: Array, step: Array, start: Labels, scan: int = 32, halvings: int = 40
) -> Array:
    """The shortest prefix of each step from x that already changes the class.

    DeepFool's linearisations can overshoot where the network is nearly flat. Scanning the
    step at ``scan`` points and bisecting the first interval where the class changes gives the
    nearest crossing along the same direction (the step itself where none is found).
    """
    n = len(x)
    t = np.linspace(0.0, 1.0, scan + 1)[1:]
    points = x[:, None, :] + t[None, :, None] * step[:, None, :]
    classes = predicted_classes(network.predict(points.reshape(n * scan, -1))).reshape(n, scan)
    changed = classes != start[:, None]
    first = np.where(changed.any(axis=1), changed.argmax(axis=1), scan - 1)
    high = t[first]
    low = np.where(first > 0, t[np.maximum(first - 1, 0)], 0.0)
    for _ in range(halvings):
        mid = (low + high) / 2
        moved = predicted_classes(network.predict(x + mid[:, None] * step)) != start
        high = np.where(moved, mid, high)
        low = np.where(moved, low, mid)
    return step * high[:, None].astype(step.dtype)


def configured_attack(config: EvasionConfig) -> Attack:
    """The attack a scenario's ``[experiments.evasion]`` describes (FGSM: one full step)."""
    if config.attack == "fgsm":
        return Attack(config.eps, config.norm, step=config.eps, iterations=1)
    return Attack(config.eps, config.norm, config.step, config.iterations, config.random_start)


def training_attack(config: EvasionConfig) -> Attack:
    """The PGD the adversarially trained twin meets in every batch (always a random start)."""
    eps = config.train_eps or config.eps
    return Attack(eps, config.norm, 0.0, config.train_iterations, random_start=True)


def defend(run: Run, config: EvasionConfig) -> None:
    """Make ``run`` train on PGD examples of each batch instead of the batch (Madry et al.)."""
    rng = np.random.default_rng([run.train_config.seed, 3, config.seed])
    run.random_sources.append(rng)  # saved with the run's state, so replays draw the same
    run.trainer.input_transform = adversarial_training_transform(
        run.network, training_attack(config), rng
    )
