"""The live lab: change the run while it learns, edit its data and weights, go back in time.

``LabScreen`` is the base of the trainer's main screen: it holds the keys of the lab and what
they do. Quick changes (a learning rate, a point, a weight) apply at once, even while
training runs; long work (a block of epochs, a jump through the past, a new network) runs in
a thread worker and reports back with ``JobDone``, so every key answers at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from textual import work
from textual.binding import Binding
from textual.worker import get_current_worker

from engine import controls
from engine.edits import Edit
from engine.export import save_scenario
from engine.scenario import ScenarioError
from tui_nn.messages import JobDone, MapClicked
from tui_nn.screens.controls import ControlsScreen
from tui_nn.screens.dialogs import WeightDialog
from tui_nn.screens.explain import ExplainScreen
from tui_nn.screens.session_files import SessionFiles
from tui_nn.widgets.architecture_view import ArchitectureView, Selection, SelectionClicked
from tui_nn.widgets.caption_bar import CaptionBar

REPLAY_CHUNK = 64
"""Epochs replayed per hold of the session's lock while jumping through the past."""
INLINE_REPLAY = 32
"""A jump that replays at most this many epochs is done at once, not in the worker."""
BLOCK_CHUNK = 10
"""Epochs per hold of the lock while training a block."""

CONTROL_KEYS = (
    ("comma", "learning_rate", -1, ",", "Learning rate down the ladder (applies next epoch)"),
    ("full_stop", "learning_rate", 1, ".", "Learning rate up the ladder (applies next epoch)"),
    ("O", "optimizer", 1, "O", "Optimiser: sgd, momentum, adam (applies next epoch)"),
    ("M", "momentum", 1, "M", "Momentum 0.5, 0.9, 0.99 (applies next epoch)"),
    ("R", "penalty", 1, "R", "L1/L2 penalty: none, L2 1e-4..1e-2, L1 1e-4..1e-2 (next epoch)"),
    ("B", "batch_size", 1, "B", "Batch size: full, 1, 8, 32, 128 (applies next epoch)"),
    ("A", "activation", 1, "A", "Hidden activation (starts the run again)"),
    ("right_parenthesis", "layers", 1, ")", "One hidden layer more (starts again)"),
    ("left_parenthesis", "layers", -1, "(", "One hidden layer fewer (starts again)"),
    ("greater_than_sign", "neurons", 1, ">", "One neuron more in the selected layer (again)"),
    ("less_than_sign", "neurons", -1, "<", "One neuron fewer in the selected layer (again)"),
    ("L", "output", 1, "L", "Output and loss, where the data allows (starts again)"),
    ("D", "dataset", 1, "D", "Dataset: moons, circles, spiral, xor... (starts again)"),
    ("V", "noise", 1, "V", "Noise of the data (starts again)"),
    ("F", "test_fraction", 1, "F", "Share of points held out for testing (starts again)"),
    ("G", "data_seed", 1, "G", "Regenerate the data with the next seed (starts again)"),
    ("I", "init", 1, "I", "Initialiser: he, glorot, normal, uniform, zeros (starts again)"),
)
"""(key, control, step, shown key, tooltip) of every control on a key of its own."""

LAB_BINDINGS = [
    Binding("left_square_bracket", "time(-1)", "Back", key_display="[", show=False, id="time.back",
            tooltip="One epoch back in time (the future is kept until you train)"),
    Binding("right_square_bracket", "time(1)", "Forward", key_display="]", show=False,
            id="time.forward", tooltip="One epoch forward again"),
    Binding("left_curly_bracket", "time(-10)", "Back 1/10", key_display="{", show=False,
            id="time.back_far", tooltip="Back a tenth of the history"),
    Binding("right_curly_bracket", "time(10)", "Forward 1/10", key_display="}", show=False,
            id="time.forward_far", tooltip="Forward a tenth of the history"),
    Binding("e", "explain", "Explain", show=False, id="lab.explain",
            tooltip="Explained step: one update on the probe point, stage by stage"),
    Binding("S", "save_scenario", "Save scenario", show=False, id="lab.save_scenario",
            tooltip="Save the live state as NAME-epochE.toml here (with weights and data)"),
    Binding("d", "add_point", "Add point", show=False, id="data.add",
            tooltip="Add a training point of the chosen class at the probe (then: on click)"),
    Binding("y", "next_class", "Class", show=False, id="data.class",
            tooltip="Choose the class d adds"),
    Binding("f", "flip_point", "Flip label", show=False, id="data.flip",
            tooltip="Flip the label of the training point nearest the probe (then: on click)"),
    Binding("delete,backspace", "remove_point", "Remove point", key_display="Del", show=False,
            id="data.remove",
            tooltip="Remove the training point nearest the probe (then: on click)"),
    Binding("K", "clean_twin", "Clean twin", show=False, id="lab.clean_twin",
            tooltip="Train a twin beside it: these weights, on the unedited data"),
    Binding("u", "select_neuron(1)", "Neuron", show=False, id="select.neuron",
            tooltip="Select the next neuron: its map on the main map, its numbers"),
    Binding("U", "select_neuron(-1)", "Neuron back", show=False, id="select.neuron_back",
            tooltip="Select the previous neuron"),
    Binding("w", "select_weight(1)", "Weight", show=False, id="select.weight",
            tooltip="Select the next weight (or bias) into the selected neuron"),
    Binding("W", "select_weight(-1)", "Weight back", show=False, id="select.weight_back",
            tooltip="Select the previous weight"),
    Binding("E", "edit_weight", "Edit weight", show=False, id="lab.edit_weight",
            tooltip="Nudge or set the selected weight (e.g. +1e-14)"),
    Binding("escape", "clear", "Clear", show=False, id="lab.clear",
            tooltip="Clear the selection and the click tool"),
    Binding("b", "discrete", "Hard colours", show=False, id="view.discrete",
            tooltip="Discretized map: hard class colours, and back"),
    Binding("H", "hide_test", "Hide test", show=False, id="view.hide_test",
            tooltip="Hide the test points, and show them again"),
    Binding("C", "controls", "Controls", show=False, id="control.dialog",
            tooltip="Every control in one dialog (what applies live, what starts again)"),
    *(
        Binding(key, f"control('{name}', {step})", tip.split(" (")[0], key_display=shown,
                show=False, id=f"control.{name}{'_down' if step < 0 else ''}", tooltip=tip)
        for key, name, step, shown, tip in CONTROL_KEYS
    ),
]  # fmt: skip
"""The lab's keys (the main screen adds them to its own)."""

TOOLS = {"add": "adds a point", "flip": "flips a label", "remove": "removes a point"}
"""What a click on the map does after d, f or Delete."""


def epochs(first: int, last: int) -> str:
    """'epoch 7' or 'epochs 7 to 9'."""
    return f"epoch {first:,}" if first == last else f"epochs {first:,} to {last:,}"


class LabScreen(SessionFiles):
    """The lab's state and actions; the main screen draws and trains."""

    point_class = 1
    """The class `d` adds (`y` cycles it)."""
    tool = ""
    """'add', 'flip' or 'remove': what a click on the map does ('': it only moves the probe)."""
    seek_target: int | None = None
    """Where a jump through the past is going (while its job runs)."""
    last_change = ""
    """What the last key of the lab did, in words (for tests and the status)."""

    # -- hooks the main screen provides ------------------------------------------------

    @property
    def running(self) -> bool:
        raise NotImplementedError

    @property
    def probe_point(self) -> tuple[float, float]:
        raise NotImplementedError

    @property
    def map_run(self) -> int:
        raise NotImplementedError

    def explain_pause(self) -> None:
        raise NotImplementedError

    def show_selection(self) -> None:
        raise NotImplementedError

    def fit_to_session(self) -> None:
        """After the runs or the network changed: drop a selection or view that is gone."""
        raise NotImplementedError

    def set_map_options(self, *, hard: bool | None = None, show_test: bool | None = None) -> None:
        raise NotImplementedError

    def map_options(self) -> tuple[bool, bool]:
        raise NotImplementedError

    # -- long work ---------------------------------------------------------------------

    def run_job(self, job: Callable[[Callable[[], bool]], str]) -> None:
        """Run ``job`` in the worker; it gets a function telling whether it was cancelled."""
        self._job(job)

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def _job(self, job: Callable[[Callable[[], bool]], str]) -> None:
        worker = get_current_worker()
        try:
            text, error = job(lambda: worker.is_cancelled), False
        except ScenarioError as exc:
            text, error = "\n".join(exc.errors), True
        except ValueError as exc:
            text, error = str(exc), True
        if not worker.is_cancelled:
            self.post_message(JobDone(text, error))

    def on_job_done(self, message: JobDone) -> None:
        self.seek_target = None
        self.fit_to_session()
        if message.error:
            self.tell(message.text, error=True)
        elif message.text:
            self.tell(message.text)
        self.explain_pause()

    def tell(self, text: str, *, error: bool = False) -> None:
        """Say what a key did (a toast), or why it could not (an error toast)."""
        self.last_change = text
        # The toast comes a frame after the change itself, so the change shows at once.
        if error:
            lines = "\n".join(text.split("\n")[:3])
            self.call_after_refresh(
                self.notify, lines, title="Not changed", severity="error", timeout=6
            )
        else:
            self.call_after_refresh(self.notify, text, timeout=3)

    # -- time travel -------------------------------------------------------------------

    async def action_time(self, step: int) -> None:
        """[ ] { }: move through the history, one epoch or a tenth of it."""
        session = self.session
        seeking = any(w.group == "job" and w.is_running for w in self.workers)
        await self.stop_training()
        head = session.head
        base = self.seek_target if seeking and self.seek_target is not None else session.epoch
        amount = step if abs(step) == 1 else (step // 10) * max(1, head // 10)
        target = min(max(base + amount, 0), head)
        if target == base:
            edge = "the newest epoch: n or Space trains on" if step > 0 else "epoch 0"
            self.tell(f"Already at {edge}.")
            return
        if session.replay_cost(target) <= INLINE_REPLAY:  # a step or two: no need to wait
            session.seek(target)
            self.seek_target = None
            self.explain_pause()
            return
        self.seek_target = target

        def seek(cancelled: Callable[[], bool]) -> str:
            while session.epoch != target and not cancelled():
                session.seek(target, REPLAY_CHUNK)
            return ""

        self.run_job(seek)

    def fork_note(self) -> None:
        """After training went on from the past: say which epochs were dropped."""
        fork = self.session.last_fork
        if fork is not None:
            self.session.last_fork = None
            dropped = epochs(fork.epoch + 1, fork.dropped_to)
            self.query_one(CaptionBar).say(
                f"{dropped[0].upper()}{dropped[1:]} dropped; training goes on from epoch "
                f"{fork.epoch:,}.",
                "target",
                "A new future:",
            )

    # -- controls ----------------------------------------------------------------------

    async def action_control(self, name: str, step: int) -> None:
        """A control key: live settings at once, the others in the worker (a new run)."""
        if name in controls.LIVE:
            try:
                change = controls.change(self.session, name, step)
            except ScenarioError as exc:
                self.tell("\n".join(exc.errors), error=True)
                return
            except ValueError as exc:
                self.tell(str(exc).capitalize(), error=True)
                return
            self.tell(f"{change.text} from epoch {self.session.epoch + 1:,} on")
            self.redraw()
            return
        await self.stop_training()
        layer = self.selected_layer()
        session = self.session

        def rebuild(cancelled: Callable[[], bool]) -> str:
            change = controls.change(session, name, step, layer)
            return f"{change.text}: the run starts again at epoch 0"

        self.run_job(rebuild)

    def selected_layer(self) -> int:
        """The hidden layer of the selected neuron, or -1 (the last hidden layer)."""
        selected = self.query_one(ArchitectureView).selected
        layers = len(self.session.scenario.model.hidden)
        if selected is not None and selected[0] < layers:
            return selected[0]
        return -1

    def action_controls(self) -> None:
        """C: the controls dialog."""
        self.app.push_screen(ControlsScreen(self))

    # -- data --------------------------------------------------------------------------

    def _data_edit(self, tool: str, point: tuple[float, float]) -> None:
        session = self.session
        x, y = point
        try:
            edit: Edit
            if tool == "add":
                edit = session.add_point(x, y, self.point_class)
            elif tool == "flip":
                flipped = session.flip_nearest(x, y)
                if flipped is None:
                    return
                edit = flipped
            else:
                removed = session.remove_nearest(x, y)
                if removed is None:
                    return
                edit = removed
        except ValueError as exc:
            self.tell(str(exc), error=True)
            return
        self.tool = tool
        hint = "K trains a clean twin beside it" if not session.twins else "t compares the runs"
        self.tell(
            f"{edit.describe().capitalize()}. A click on the map now {TOOLS[tool]}; {hint}; "
            "[ steps back in time; e explains one step."
        )
        self.fork_note()
        self.redraw()

    def action_add_point(self) -> None:
        """d: add a point of the chosen class at the probe."""
        self._data_edit("add", self.probe_point)

    def action_flip_point(self) -> None:
        """f: flip the label of the nearest training point."""
        self._data_edit("flip", self.probe_point)

    def action_remove_point(self) -> None:
        """Delete: remove the nearest training point."""
        self._data_edit("remove", self.probe_point)

    def action_next_class(self) -> None:
        """y: the class d adds."""
        self.point_class = (self.point_class + 1) % max(2, self.session.data.n_classes)
        self.tell(f"d adds class {self.point_class} points")
        self.redraw()

    def on_map_clicked(self, message: MapClicked) -> None:
        if self.tool:
            self._data_edit(self.tool, (message.x, message.y))
        else:
            self.redraw()

    def action_clean_twin(self) -> None:
        """K: a clean twin from the weights now, on the unedited data."""
        session = self.session
        try:
            session.add_clean_twin()
        except ValueError as exc:
            self.tell(f"No clean twin: {exc}.", error=True)
            return
        note = "" if session.edited else " (no edits yet: edit the data and it stays clean)"
        self.tell(f"A clean twin trains beside it on the unedited data{note}. t compares.")
        self.fork_note()
        self.redraw()

    def action_clear(self) -> None:
        """Escape: no selection, no click tool."""
        self.tool = ""
        self.query_one(ArchitectureView).select(None)
        self.show_selection()
        self.redraw()

    # -- neurons and weights -----------------------------------------------------------

    def _layer_sizes(self) -> list[tuple[int, int, bool]]:
        return [
            (cast(int, layer["n_in"]), cast(int, layer["n_out"]), bool(layer["bias"]))
            for layer in self.session.architecture()
        ]

    def _select(self, selected: Selection | None) -> None:
        self.query_one(ArchitectureView).select(selected)
        self.show_selection()
        self.redraw()

    def action_select_neuron(self, step: int) -> None:
        """u / U: the next (previous) neuron of the network."""
        neurons = [
            (i, j) for i, (_, n_out, _) in enumerate(self._layer_sizes()) for j in range(n_out)
        ]
        current = self.query_one(ArchitectureView).selected
        at = neurons.index(current[:2]) if current and current[:2] in neurons else -1
        first = 0 if step > 0 else len(neurons) - 1
        at = (at + step) % len(neurons) if at >= 0 else first
        self._select((*neurons[at], None))

    def action_select_weight(self, step: int) -> None:
        """w / W: the next (previous) weight into the selected neuron, then its bias."""
        current = self.query_one(ArchitectureView).selected
        if current is None:
            current = (0, 0, None)
        i, j, row = current
        n_in, _, bias = self._layer_sizes()[i]
        rows: list[int | None] = [*range(n_in), *([-1] if bias else [])]
        at = rows.index(row) if row in rows else (-1 if step > 0 else 0)
        self._select((i, j, rows[(at + step) % len(rows)]))

    def on_selection_clicked(self, message: SelectionClicked) -> None:
        self._select(message.selected)

    def action_edit_weight(self) -> None:
        """E: nudge or set the selected weight."""
        selected = self.query_one(ArchitectureView).selected
        if selected is None or selected[2] is None:
            self.tell("Select a weight first: u picks a neuron, w one of its weights.", error=True)
            return
        i, j, row = selected
        assert row is not None

        def apply(change: tuple[str, float] | None) -> None:
            if change is None:
                return
            kind, amount = change
            try:
                edit = self.session.edit_weight(
                    self.map_run, i, row, j, **{"delta" if kind == "nudge" else "value": amount}
                )
            except ValueError as exc:
                self.tell(str(exc), error=True)
                return
            self.tell(edit.describe())
            self.fork_note()
            self.show_selection()
            self.redraw()

        self.app.push_screen(WeightDialog(), apply)

    # -- explaining, saving, toggles ---------------------------------------------------

    def action_explain(self) -> None:
        """e: the explained step on the probe point."""
        self.app.push_screen(
            ExplainScreen(self.session, self.probe_point, self.map_run, self.focus_neuron())
        )

    def focus_neuron(self) -> tuple[int, int] | None:
        """(layer, neuron) selected, to be listed first."""
        selected = self.query_one(ArchitectureView).selected
        return None if selected is None else (selected[0], selected[1])

    async def action_save_scenario(self) -> None:
        """S: save the live state as a scenario in the current folder."""
        try:
            saved = save_scenario(self.session, Path.cwd())
        except (OSError, ScenarioError, ValueError) as exc:
            self.tell(f"Could not save: {exc}", error=True)
            return
        files = [saved.scenario.name, saved.weights.name]
        if saved.data is not None:
            files.append(saved.data.name)
        self.last_change = str(saved.scenario)
        self.notify(
            f"{saved.scenario.parent}\n"
            + ", ".join(files)
            + f"\nOpen it: tui-nn {saved.scenario.name}",
            title="Scenario saved",
            timeout=8,
        )

    def action_discrete(self) -> None:
        """b: hard class colours, and back."""
        hard, _ = self.map_options()
        self.set_map_options(hard=not hard)
        self.tell("Hard class colours" if not hard else "Shaded by confidence")
        self.redraw()

    def action_hide_test(self) -> None:
        """H: hide or show the test points."""
        _, shown = self.map_options()
        self.set_map_options(show_test=not shown)
        self.tell("Test points hidden" if shown else "Test points shown")
        self.redraw()
