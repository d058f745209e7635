"""The explained step: one update on one point, a stage per key press, with real numbers."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.edits import nearest_point
from engine.explain import Explanation
from engine.session import Session


class ExplainScreen(ModalScreen[None]):
    """Forward, loss, backward, update: each key press shows the next stage."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e,space,enter,right", "next", "Next stage", id="explain.next"),
        Binding("left,backspace", "back", "Back", id="explain.back"),
        Binding("p", "point", "Probe/point", id="explain.point",
                tooltip="Explain the probe point, or the training point nearest it"),
        Binding("y", "label", "Target", id="explain.label", tooltip="Another target class"),
        Binding("escape,q", "close", "Close", id="explain.close"),
    ]  # fmt: skip

    def __init__(
        self,
        session: Session,
        probe: tuple[float, float],
        run: int = 0,
        focus: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.session = session
        self.probe = probe
        """Where the probe is."""
        self.run_index = run
        """The run explained (the one on the map)."""
        self.focus_neuron = focus
        self.training_point: int | None = None
        """The training point explained instead of the probe, or None."""
        self.label: int | None = None
        """The target class chosen, or None for the default."""
        self.shown = 1
        """How many stages are shown."""
        self.explanation = self._explain()

    def _explain(self) -> Explanation:
        return self.session.explain(
            self.probe,
            run=self.run_index,
            label=self.label,
            training_point=self.training_point,
            focus=self.focus_neuron,
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog explain-dialog") as box:
            box.border_title = "Explained step"
            box.border_subtitle = "e next · ← back · p point · y target · Esc"
            with VerticalScroll(classes="dialog-body"):
                yield Static(id="explain-text", markup=False)

    def on_mount(self) -> None:
        self.update_text()

    def text(self) -> Text:
        """The stages shown so far, each titled, a formula per line."""
        e = self.explanation
        run = self.session.slots[self.run_index]
        out = Text()
        out.append(
            f"One update of '{run.label}' at epoch {self.session.epoch:,} on {e.source} "
            f"({e.point[0]:.4g}, {e.point[1]:.4g}), target class {e.label}, as if it were the "
            "only training point.\n",
            "italic",
        )
        for i, stage in enumerate(e.stages[: self.shown]):
            out.append(f"\n{i + 1}. {stage.title}\n", "bold")
            out.append("\n".join(stage.lines) + "\n")
        if self.shown < len(e.stages):
            out.append(f"\ne: {e.stages[self.shown].title.lower()} →", "dim")
        return out

    def update_text(self) -> None:
        self.query_one("#explain-text", Static).update(self.text())

    def action_next(self) -> None:
        if self.shown < len(self.explanation.stages):
            self.shown += 1
            self.update_text()
            self.query_one(VerticalScroll).scroll_end(animate=False)

    def action_back(self) -> None:
        self.shown = max(1, self.shown - 1)
        self.update_text()

    def action_point(self) -> None:
        if self.training_point is None:
            index = nearest_point(self.session.data, *self.probe)
            self.training_point = index if index >= 0 else None
        else:
            self.training_point = None
        self.label = None
        self.explanation = self._explain()
        self.update_text()

    def action_label(self) -> None:
        classes = max(2, self.session.data.n_classes)
        self.label = (self.explanation.label + 1) % classes
        self.explanation = self._explain()
        self.update_text()

    def action_close(self) -> None:
        self.dismiss(None)
