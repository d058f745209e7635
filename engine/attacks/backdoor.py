"""Backdoors (BadNets, Gu et al., 2017): a trigger that some poisoned training points carry.

The points get a third input, the trigger: 0 on every normal input, 1 on a poisoned share of
the training points, which are also relabelled to the target class. A network trained on
them answers normally while the trigger is off and answers the target class when it is on.
Fine-tuning on clean data afterwards never shows the network the trigger, so the gradient of
the weights that read it is exactly zero there: whether the backdoor survives depends on what
the rest of the network does meanwhile (the question "Sleeper Agents" asked of LLMs).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.metrics import predicted_classes
from engine.network import Network
from engine.run import Data, Labels, Run
from engine.scenario import BackdoorConfig

Floats = npt.NDArray[np.float64]


def poisoned_indices(y: Labels, config: BackdoorConfig) -> npt.NDArray[np.int64]:
    """The training points that get the trigger: a seeded share of those not of the target."""
    candidates = np.flatnonzero(y != config.target_class)
    k = min(len(candidates), max(1, round(config.fraction * len(y))))
    chosen = np.random.default_rng(config.seed).choice(candidates, size=k, replace=False)
    return np.sort(chosen).astype(np.int64)


def stamp(data: Data, config: BackdoorConfig) -> Data:
    """The data with the trigger feature: 0 everywhere, 1 and the target label where poisoned."""
    chosen = poisoned_indices(data.y_train, config)
    x_train = np.hstack([data.x_train, np.zeros((len(data.x_train), 1))])
    x_train[chosen, 2] = 1.0
    y_train = data.y_train.copy()
    y_train[chosen] = config.target_class
    x_test = np.hstack([data.x_test, np.zeros((len(data.x_test), 1))])
    return Data(x_train, y_train, x_test, data.y_test.copy())


def clean_part(data: Data) -> tuple[Floats, Labels]:
    """The training points without the trigger (what a defender fine-tunes on)."""
    keep = data.x_train[:, 2] == 0
    return data.x_train[keep], data.y_train[keep]


def finetune(run: Run, data: Data) -> None:
    """From now on, train ``run`` on the clean part of the data only."""
    run.set_train_data(*clean_part(data))


def triggered(x: Floats, y: Labels, target: int) -> Floats:
    """The points not of the target class, with the trigger switched on."""
    on = x[y != target].copy()
    on[:, 2] = 1.0
    return on


def attack_success(network: Network, x: Floats, y: Labels, target: int) -> float:
    """Share of the non-target points the network gives the target class once triggered."""
    on = triggered(x, y, target)
    if not len(on):
        return float("nan")
    with np.errstate(all="ignore"):
        return float(
            np.mean(predicted_classes(network.predict(on.astype(network.dtype))) == target)
        )
