"""The panel widgets, mounted in a small app and fed real snapshots of real sessions."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget

from engine.experiments.measure import measure
from engine.scenario import parse_scenario
from engine.session import Session
from engine.snapshot import Snapshot
from tui_nn.plane import ASCII_CLASS_GLYPHS
from tui_nn.screens.loss_chart import LossChart
from tui_nn.story import histogram_text
from tui_nn.widgets.architecture_view import (
    DEFAULT_STYLES,
    ArchitectureView,
    architecture_text,
    weight_cell,
)
from tui_nn.widgets.boundary_map import BoundaryMap
from tui_nn.widgets.curve_plot import CurvePlot, trace
from tui_nn.widgets.experiment_panel import NO_EXPERIMENT, ExperimentPanel
from tui_nn.widgets.loss_panel import LossPanel, epoch_ticks, thin
from tui_nn.widgets.neuron_maps import NeuronMaps, plan
from tui_nn.widgets.palette import ASCII_ACTIVATION_GLYPHS

GRID = (40, 30)

SCENARIO = """
title = "widget test"
[data]
kind = "moons"
samples = 80
noise = 0.1
test_fraction = 0.25
seed = 1
[model]
hidden = [{hidden}]
activation = "relu"
output = "sigmoid"
[training]
loss = "binary_cross_entropy"
learning_rate = 0.5
epochs = 500
seed = 2
[display]
x_range = [-2.0, 3.0]
y_range = [-1.5, 2.0]
{extra}
"""
BUTTERFLY = "[experiments.butterfly]\nepsilon = 1e-14\n"


def session(hidden: str = "4", extra: str = "", epochs: int = 5) -> Session:
    text = SCENARIO.format(hidden=hidden, extra=extra)
    s = Session(parse_scenario(text, "widget-test.toml"))
    s.step(epochs)
    return s


class Host(App[None]):
    """Mounts one widget and nothing else."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def screen_lines(app: App[None], widget: Widget | None = None) -> list[str]:
    """The text on screen, or only inside ``widget``'s region."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    if widget is None:
        return lines
    r = widget.region
    return [line[r.x : r.right] for line in lines[r.y : r.bottom]]


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def count_refreshes(monkeypatch: pytest.MonkeyPatch, root: Widget) -> list[Widget]:
    """Record every refresh of ``root`` or a widget inside it."""
    calls: list[Widget] = []
    original = Widget.refresh

    def spy(self: Widget, *args: object, **kwargs: object) -> Widget:
        if root in self.ancestors_with_self:
            calls.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Widget, "refresh", spy)
    return calls


# ArchitectureView


def kill_unit(s: Session, unit: int) -> None:
    layer = s.runs[0].network.layers[0]
    assert layer.bias is not None
    layer.weight[:, unit] = -5
    layer.bias[unit] = -20  # off everywhere on the moons


async def test_architecture_shows_a_dead_unit_as_dead() -> None:
    s = session()
    kill_unit(s, 1)
    snap = s.snapshot(grid=GRID)
    assert snap.baseline.layers[0].status[1] == "dead"
    view = ArchitectureView()
    app = Host(view)
    async with app.run_test(size=(60, 20)) as pilot:
        view.show(snap)
        await settle(pilot)
        text = "\n".join(screen_lines(app, view))
    assert "1 dead" in text
    neurons = next(line for line in text.splitlines() if "●" in line or "✕" in line)
    assert neurons.split()[:4] == ["●", "✕", "●", "●"]


async def test_architecture_without_dead_units_says_none() -> None:
    snap = session().snapshot()
    assert "dead" not in snap.baseline.layers[0].status
    view = ArchitectureView()
    app = Host(view)
    async with app.run_test(size=(60, 20)) as pilot:
        view.show(snap)
        await settle(pilot)
        assert "dead" not in "\n".join(screen_lines(app, view))


def test_architecture_of_a_2_10_1_network_fits_40_columns() -> None:
    snap = session(hidden="10").snapshot()
    for glyphs in (False, True):
        text = architecture_text(snap.baseline.layers, 38, glyphs)
        assert max(line.cell_len for line in text.split("\n")) <= 40
        assert len(text.split("\n")) <= 8


async def test_architecture_glyph_mode_is_ascii_and_shows_signs() -> None:
    s = session()
    kill_unit(s, 0)
    snap = s.snapshot()
    view = ArchitectureView(glyphs=True)
    app = Host(view)
    async with app.run_test(size=(60, 20)) as pilot:
        view.show(snap)
        await settle(pilot)
        text = "\n".join(screen_lines(app, view))
        assert text.isascii()
        assert "-9" in text  # the killed unit's weights are the layer's largest, negative
        assert "x" in text.splitlines()[4]
        view.glyphs = False
        await settle(pilot)
        assert "✕" in "\n".join(screen_lines(app, view))


# LossPanel and LossChart


def test_thin_keeps_first_and_last_epoch() -> None:
    x = np.arange(1, 1201, dtype=np.float64)
    epochs, values = thin(x, x - 1, 500)
    assert len(epochs) <= 500
    assert (epochs[0], epochs[-1]) == (1, 1200)
    assert values[-1] == 1199.0


def test_epoch_ticks_are_whole_numbers() -> None:
    assert epoch_ticks(26965) == [0, 10000, 20000]
    assert epoch_ticks(600) == [0, 200, 400, 600]
    assert all(isinstance(t, int) for t in epoch_ticks(7))


def test_curve_trace_keeps_every_column_joined_and_spikes() -> None:
    x = np.arange(1, 101, dtype=np.float64)
    y = np.full(100, 1.0)
    y[50] = 100.0  # one spike must survive thinning 100 epochs into 20 columns
    dots, (low, high) = trace([curve(x, y)], 20, 10, log=True)
    assert (low, high) == (0.0, 2.0)
    columns = dots[0].any(axis=0)
    assert columns.all()  # a dot in every column: the curve has no gaps
    assert dots[0][0].any() and dots[0][-1].any()  # the spike's top and the floor


def curve(x: np.ndarray, y: np.ndarray) -> object:
    from rich.color import Color

    from tui_nn.widgets.curve_plot import Curve

    return Curve("c", x, y, Color.parse("red"))


async def test_loss_panel_draws_every_runs_curve_in_the_charts_colours() -> None:
    s = session(extra=BUTTERFLY, epochs=90)
    snap = s.snapshot()
    panel = LossPanel()
    app = Host(panel)
    async with app.run_test(size=(60, 12)) as pilot:
        panel.show(snap)
        await settle(pilot)
        plot = panel.query_one(CurvePlot)
        labels = [c.label for c in plot.curves]
        assert labels == ["baseline test", "nudged +1e-14", "baseline"]
        assert np.array_equal(plot.curves[-1].y, snap.baseline.history.train_loss)
        text = "\n".join(screen_lines(app, panel))
        assert "━ baseline" in text and "nudged +1e-14" in text
        assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)  # braille curves
        chart = LossChart()
        await app.mount(chart)
        chart.show(snap)
        assert [(c.label, c.colour) for c in chart.curves] == [
            (c.label, c.colour) for c in plot.curves
        ]


async def test_loss_chart_plots_every_series() -> None:
    snap = session(epochs=30).snapshot()
    chart = LossChart()
    app = Host(chart)
    async with app.run_test(size=(60, 20)) as pilot:
        chart.show(snap)
        await settle(pilot)
        text = "\n".join(screen_lines(app, chart))
    assert "loss (log scale)" in text
    assert "train" in text
    assert "test" in text


# NeuronMaps


def thumbnail_strips(maps: NeuronMaps) -> list[list[tuple[str, object]]]:
    thumbs = maps
    return [
        [(seg.text, seg.style) for seg in thumbs.render_line(y)] for y in range(thumbs.size.height)
    ]


async def test_neuron_maps_follow_the_activations() -> None:
    s = session()
    first = s.snapshot(grid=GRID)
    layer = s.runs[0].network.layers[0]
    layer.weight[...] = -layer.weight
    s.revision += 1  # weights changed outside Session.step
    second = s.snapshot(grid=GRID)
    maps = NeuronMaps()
    app = Host(maps)
    async with app.run_test(size=(60, 24)) as pilot:
        maps.show(first)
        await settle(pilot)
        before = thumbnail_strips(maps)
        text = "\n".join(screen_lines(app, maps))
        assert all(f"L1.{j}" in text for j in range(1, 5))
        maps.show(second)
        await settle(pilot)
        after = thumbnail_strips(maps)
    assert before != after
    assert any("▀" in seg for line in before for seg, _ in line)


async def test_neuron_maps_without_grid_show_a_hint() -> None:
    maps = NeuronMaps()
    app = Host(maps)
    async with app.run_test(size=(60, 20)) as pilot:
        maps.show(session().snapshot(grid=None))
        await settle(pilot)
        assert "no neuron maps" in "\n".join(screen_lines(app, maps))


def test_active_unit_histogram_shows_counts_and_means() -> None:
    s = session(hidden="6", extra="[experiments.side_channel]\n", epochs=40)
    (view,) = s.snapshot().experiments
    counts = view.histogram
    assert sum(sum(h) for h in counts.values()) == len(s.data.y_train)
    lines = histogram_text(counts, 60).plain.splitlines()
    rows = {int(line.split()[0]): line for line in lines if re.match(r"^\s*\d+\s", line)}
    used = [k for k in range(7) if any(k < len(h) and h[k] for h in counts.values())]
    assert sorted(rows) == used
    for k in used:
        shown = [int(n) for n in re.findall(r"\d+", rows[k])[1:]]
        assert shown == [counts[c][k] if k < len(counts[c]) else 0 for c in sorted(counts)]
    for c, histogram in counts.items():
        mean = sum(k * n for k, n in enumerate(histogram)) / sum(histogram)
        assert f"{c}: mean {mean:.2f}" in lines[1]
        assert view.metrics()[f"side_channel.mean_active.{c}"] == pytest.approx(mean)


async def test_neuron_maps_glyph_mode_uses_the_ascii_ramp() -> None:
    s = session()
    kill_unit(s, 2)
    maps = NeuronMaps(glyphs=True)
    app = Host(maps)
    async with app.run_test(size=(60, 24)) as pilot:
        maps.show(s.snapshot(grid=GRID))
        await settle(pilot)
        lines = screen_lines(app, maps)
    assert "\n".join(lines).isascii()
    map_lines = [line for line in lines if line.strip() and "L1." not in line]
    assert map_lines
    assert set("".join(map_lines)) <= set(ASCII_ACTIVATION_GLYPHS) | {"/"}
    assert "L1.3 x" in "\n".join(lines)
    assert "////" in "\n".join(lines)  # the dead unit's hatched map


@pytest.mark.parametrize("width", [19, 24, 40, 55, 60, 78, 120])
@pytest.mark.parametrize("glyphs", [False, True], ids=["colour", "glyphs"])
async def test_thumbnail_labels_stay_inside_their_own_map(width: int, glyphs: bool) -> None:
    s = session("10", epochs=20)
    for unit in (0, 1, 6, 9):  # dead neighbours, and the widest label L1.10
        kill_unit(s, unit)
    snap = s.snapshot(grid=GRID)
    assert [snap.baseline.layers[0].status[u] for u in (0, 1, 6, 9)] == ["dead"] * 4
    thumbs = NeuronMaps(glyphs=glyphs)
    app = Host(thumbs)
    async with app.run_test(size=(width, 12)) as pilot:
        thumbs.show(snap)
        await settle(pilot)
        lines = screen_lines(app, thumbs)
        strips = [thumbs.render_line(y) for y in range(thumbs.size.height)]
    layout = plan(10, GRID[0], GRID[1], width, 12)
    step = layout.width + 1
    mark = "x" if glyphs else "✕"
    for row in range(math.ceil(10 / layout.columns)):
        top = row * (layout.lines + 1)
        for k in range(min(layout.columns, 10 - row * layout.columns)):
            unit = row * layout.columns + k
            name = f"L1.{unit + 1}"
            label = lines[top][k * step : k * step + layout.width]
            # A label is its own thumbnail's name (never cut), and a mark only after a space.
            assert label.rstrip() in (name, name[1:], f"{name} {mark}", f"{name[1:]} {mark}")
            assert (mark in label) == (unit in (0, 1, 6, 9) and len(name) + 1 <= layout.width)
            # The column after every thumbnail stays blank on every line.
            for line in lines[top : top + layout.lines + 1]:
                assert line[k * step + layout.width : k * step + step].strip() == ""
            if unit in (0, 1, 6, 9):  # a dead unit: a full, uniform hatched block
                hatch = ("/" if glyphs else "╱") * layout.width
                maps = lines[top + 1 : top + 1 + layout.lines]
                assert [m[k * step : k * step + layout.width] for m in maps] == [hatch] * len(maps)
    # No label-line segment starts with blanks: some renderers (SVG to PNG) drop them and
    # pull the label left into its neighbour's place.
    for row in range(math.ceil(10 / layout.columns)):
        for segment in strips[row * (layout.lines + 1)]:
            if segment.text.strip():
                assert not segment.text[0].isspace(), repr(segment.text)


# ExperimentPanel


async def test_experiment_panel_shows_the_engines_figures_with_their_meanings() -> None:
    s = session(extra="[experiments.poison]\nk = 3\n", epochs=60)
    snap = s.snapshot()
    panel = ExperimentPanel()
    app = Host(panel)
    async with app.run_test(size=(70, 40)) as pilot:
        panel.show(snap)
        await settle(pilot)
        await settle(pilot)
        text = "\n".join(screen_lines(app, panel))
    (view,) = snap.experiments
    measured = measure(s)
    words = " ".join(text.split())
    assert "Label poisoning" in text and view.headline in words
    for figure in view.figures:
        assert measured[figure.key] == figure.value  # the panel shows the engine's numbers
        if figure.shown:
            assert f"{figure.label}" in text and figure.text in text
            assert figure.meaning[:30] in words


async def test_experiment_panel_draws_the_butterflys_log_chart() -> None:
    snap = session(extra=BUTTERFLY, epochs=30).snapshot()
    panel = ExperimentPanel()
    app = Host(panel)
    async with app.run_test(size=(70, 50)) as pilot:
        panel.show(snap)
        await settle(pilot)
        await settle(pilot)
        plot = panel.query_one(CurvePlot)
        assert [c.label for c in plot.curves] == ["max|dW|", "|Δloss|", "disagree"]
        assert plot.log_scale
        text = "\n".join(screen_lines(app, panel))
        assert "(log scale)" in text and "Butterfly effect" in text


async def test_experiment_panel_without_an_experiment_says_so() -> None:
    panel = ExperimentPanel()
    app = Host(panel)
    async with app.run_test(size=(80, 24)) as pilot:
        panel.show(session().snapshot())
        await settle(pilot)
        text = " ".join(line.strip() for line in screen_lines(app, panel))
    assert NO_EXPERIMENT[:40] in text


async def test_map_in_glyph_mode_uses_class_glyphs_and_digits() -> None:
    s = session(extra=BUTTERFLY)
    boundary = BoundaryMap(s.extent, glyphs=True)
    app = Host(boundary)
    allowed = set("".join(ASCII_CLASS_GLYPHS)) | set("0123456789!?#()-., ")
    async with app.run_test(size=(40, 20)) as pilot:
        boundary.show(s.snapshot(grid=boundary.grid_size(), extent=boundary.extent))
        await settle(pilot)
        chars = set("".join(screen_lines(app, boundary)))
    assert chars <= allowed
    assert {"0", "1"} <= chars  # data points drawn as their labels


# Every widget


def every_widget() -> list[tuple[str, Callable[[], Widget], Snapshot]]:
    plain = session().snapshot(grid=GRID)
    twins = session(extra=BUTTERFLY).snapshot(grid=GRID)
    return [
        ("architecture", ArchitectureView, plain),
        ("loss", LossPanel, plain),
        ("chart", LossChart, plain),
        ("maps", NeuronMaps, plain),
        ("experiment", ExperimentPanel, twins),
        ("map", lambda: BoundaryMap(plain.extent), plain),
    ]


@pytest.mark.parametrize(("name", "make", "snap"), every_widget(), ids=lambda v: str(v)[:12])
async def test_widget_survives_any_size(
    name: str, make: Callable[[], Widget], snap: Snapshot
) -> None:
    widget = make()
    app = Host(widget)
    async with app.run_test(size=(80, 24)) as pilot:
        widget.show(snap)  # type: ignore[attr-defined]
        for size in ((1, 1), (200, 60), (38, 10), (2, 3)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert len(screen_lines(app)) == size[1]
        widget.styles.width = 0
        await settle(pilot)
        screen_lines(app)
        widget.glyphs = True  # type: ignore[attr-defined]
        await settle(pilot)
        screen_lines(app)


@pytest.mark.parametrize(("name", "make", "snap"), every_widget(), ids=lambda v: str(v)[:12])
async def test_showing_the_same_epoch_again_redraws_nothing(
    name: str, make: Callable[[], Widget], snap: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget = make()
    app = Host(widget)
    async with app.run_test(size=(80, 24)) as pilot:
        if isinstance(widget, BoundaryMap):  # the map draws grids taken for its own extent
            await settle(pilot)
            snap = session().snapshot(grid=widget.grid_size(), extent=widget.extent)
        widget.show(snap)  # type: ignore[attr-defined]
        await settle(pilot)
        widget.show(snap)  # type: ignore[attr-defined]  # (a panel laid out after its first
        await settle(pilot)  # show draws again once it has its size)
        calls = count_refreshes(monkeypatch, widget)
        widget.show(snap)  # type: ignore[attr-defined]
        await settle(pilot)
        assert calls == []


async def test_thumbnails_draw_only_on_change(monkeypatch: pytest.MonkeyPatch) -> None:
    s = session()
    thumbs = NeuronMaps()
    app = Host(thumbs)
    builds: list[int] = []
    original = NeuronMaps._build

    def spy(self: NeuronMaps, width: int, height: int) -> list:
        builds.append(width)
        return original(self, width, height)

    monkeypatch.setattr(NeuronMaps, "_build", spy)
    async with app.run_test(size=(60, 20)) as pilot:
        thumbs.show(s.snapshot(grid=GRID))
        await settle(pilot)
        builds.clear()
        thumbs.show(s.snapshot(grid=GRID))
        thumbs.refresh()  # a repaint reuses the strips built for this size and data
        await settle(pilot)
        assert builds == []
        s.step()
        thumbs.show(s.snapshot(grid=GRID))
        await settle(pilot)
        assert builds == [60]


def test_a_wide_layer_draws_each_weight_in_its_sign_s_colour_with_few_spans() -> None:
    text = "[data]\nkind = 'spiral'\n[model]\nhidden = [32, 32]\n"
    session = Session(parse_scenario(text, "wide.toml"))
    layers = session.snapshot().runs[0].layers
    drawn = architecture_text(layers, 80)
    row = drawn.split("\n")[1]  # the first input's row of the 2 -> 32 layer
    weights = layers[0].weight[0]
    bias = layers[0].bias
    assert bias is not None
    scale = float(max(np.max(np.abs(layers[0].weight)), np.max(np.abs(bias))))
    cells = row.plain.split()[1:]
    assert len(cells) == len(weights) == 32
    start = row.plain.index("x1") + 3
    for j, w in enumerate(weights.tolist()):
        glyph, style = weight_cell(w, scale, False, DEFAULT_STYLES)
        assert row.plain[start + 2 * j] == glyph
        assert row.get_style_at_offset(Console(), start + 2 * j).color == style.color
    # Neighbouring weights of one sign share a span: fewer spans than weights.
    runs = 1 + int(np.count_nonzero(np.diff(np.sign(weights)) != 0))
    assert len(row.spans) == runs + 1  # and one for the row's muted base


def test_a_hidden_layer_s_rows_are_named_after_the_units_that_feed_them() -> None:
    text = "[data]\nkind = 'spiral'\n[model]\nhidden = [32, 32]\n"
    layers = Session(parse_scenario(text, "wide.toml")).snapshot().runs[0].layers
    rows = [line.plain.split()[0] for line in architecture_text(layers, 80).split("\n")]
    second = rows.index("L2")
    assert rows[1:3] == ["x1", "x2"]
    assert rows[second + 1 : second + 33] == [f"L1.{r}" for r in range(1, 33)]
