"""The panel widgets, mounted in a small app and fed real snapshots of real sessions."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Sparkline

from engine.scenario import parse_scenario
from engine.session import Session
from engine.snapshot import Snapshot
from tui_nn.widgets.architecture_view import ArchitectureView, architecture_text
from tui_nn.widgets.loss_panel import LossChart, LossPanel, downsample, thin
from tui_nn.widgets.neuron_maps import ActiveUnitBars, NeuronMaps, NeuronThumbnails, plan
from tui_nn.widgets.palette import ASCII_ACTIVATION_GLYPHS, ASCII_CLASS_GLYPHS
from tui_nn.widgets.twin_panel import NO_TWIN_HINT, PlaneView, TwinPanel

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


def test_downsample_averages_buckets_and_keeps_short_series() -> None:
    assert downsample([1.0, 2.0], 5) == (1.0, 2.0)
    assert downsample([float(v) for v in range(10)], 3) == (1.0, 4.0, 7.5)
    assert downsample([1.0, 2.0, 3.0], 0) == (2.0,)


def test_thin_keeps_first_and_last_epoch() -> None:
    epochs, values = thin([float(v) for v in range(1200)], 500)
    assert len(epochs) <= 500
    assert (epochs[0], epochs[-1]) == (1, 1200)
    assert values[-1] == 1199.0


async def test_loss_panel_sparklines_hold_the_downsampled_history() -> None:
    s = session(epochs=90)
    snap = s.snapshot()
    panel = LossPanel()
    app = Host(panel)
    async with app.run_test(size=(40, 10)) as pilot:
        panel.show(snap)
        await settle(pilot)
        train = panel.query_one("#loss-train-spark", Sparkline)
        test = panel.query_one("#loss-test-spark", Sparkline)
        assert train.size.width < 90
        run = snap.baseline
        assert train.data == downsample(run.loss_history, train.size.width)
        assert test.data == downsample(run.test_loss_history, test.size.width)
        text = "\n".join(screen_lines(app, panel))
        assert f"{run.train_loss:.4g}" in text
        assert f"{run.test_accuracy:5.1%}".strip() in text
        await pilot.resize_terminal(120, 10)
        await settle(pilot)
        assert train.data == tuple(run.loss_history)


async def test_loss_chart_plots_both_series() -> None:
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
    thumbs = maps.thumbnails
    return [
        [(seg.text, seg.style) for seg in thumbs.render_line(y)] for y in range(thumbs.size.height)
    ]


async def test_neuron_maps_follow_the_activations() -> None:
    s = session()
    first = s.snapshot(grid=GRID)
    layer = s.runs[0].network.layers[0]
    layer.weight[...] = -layer.weight
    second = s.snapshot(grid=GRID)
    maps = NeuronMaps()
    app = Host(maps)
    async with app.run_test(size=(60, 24)) as pilot:
        maps.show(first)
        await settle(pilot)
        before = thumbnail_strips(maps)
        text = "\n".join(screen_lines(app, maps.thumbnails))
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


async def test_active_unit_histogram_shows_counts_and_means() -> None:
    snap = session(hidden="6", epochs=40).snapshot(grid=GRID)
    counts = snap.active_units
    maps = NeuronMaps()
    app = Host(maps)
    async with app.run_test(size=(100, 40)) as pilot:
        maps.show(snap)
        await settle(pilot)
        lines = screen_lines(app, maps.query_one(ActiveUnitBars))
    rows = {int(line.split()[0]): line for line in lines if re.match(r"^\s*\d+\s", line)}
    used = [k for k in range(7) if any(k < len(h) and h[k] for h in counts.values())]
    assert sorted(rows) == used
    for k in used:
        shown = [int(n) for n in re.findall(r"\d+", rows[k])[1:]]
        assert shown == [counts[c][k] if k < len(counts[c]) else 0 for c in sorted(counts)]
    for c, histogram in counts.items():
        mean = sum(k * n for k, n in enumerate(histogram)) / sum(histogram)
        assert f"{c}: mean {mean:.2f}" in lines[1]


async def test_neuron_maps_glyph_mode_uses_the_ascii_ramp() -> None:
    s = session()
    kill_unit(s, 2)
    maps = NeuronMaps(glyphs=True)
    app = Host(maps)
    async with app.run_test(size=(60, 24)) as pilot:
        maps.show(s.snapshot(grid=GRID))
        await settle(pilot)
        lines = screen_lines(app, maps.thumbnails)
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
    thumbs = NeuronThumbnails(glyphs=glyphs)
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


# TwinPanel


async def test_twin_panel_shows_both_runs_and_their_drift() -> None:
    s = session(extra=BUTTERFLY, epochs=12)
    snap = s.snapshot(grid=GRID)
    panel = TwinPanel()
    app = Host(panel)
    async with app.run_test(size=(80, 24)) as pilot:
        panel.show(snap)
        await settle(pilot)
        text = "\n".join(screen_lines(app, panel))
        assert "baseline" in text
        assert snap.runs[1].label in text
        assert NO_TWIN_HINT[:20] not in text
        assert f"max|dW| {snap.twin_diffs[0].max_abs_dw[-1]:.2e}" in text
        spark = panel.query_one("#twin-disagree-spark", Sparkline)
        assert spark.data == tuple(snap.twin_diffs[0].disagreement)
        panel.twin_index = 5  # more than there are: clamped to the last twin
        await settle(pilot)
        assert panel.twin == 0
        assert snap.runs[1].label in "\n".join(screen_lines(app, panel))


PRECISION = '[experiments.precision]\ndtypes = ["float64", "float32"]\n'


@pytest.mark.parametrize("extra", [BUTTERFLY, PRECISION], ids=["butterfly", "precision"])
async def test_twin_titles_name_the_dtype_once(extra: str) -> None:
    snap = session(extra=extra).snapshot(grid=GRID)
    panel = TwinPanel()
    app = Host(panel)
    async with app.run_test(size=(100, 24)) as pilot:
        panel.show(snap)
        await settle(pilot)
        for side, run in zip(("baseline", "twin"), snap.runs[:2], strict=True):
            title = screen_lines(app, panel.query_one(f"#twin-title-{side}"))[0].strip()
            assert title.count(run.dtype) == 1, title
            assert title.startswith(run.label)


async def test_twin_panel_without_twins_shows_the_hint() -> None:
    panel = TwinPanel()
    app = Host(panel)
    async with app.run_test(size=(80, 24)) as pilot:
        panel.show(session().snapshot(grid=GRID))
        await settle(pilot)
        text = " ".join(line.strip() for line in screen_lines(app, panel))
    assert "no twin run" in text
    assert "max|dW|" not in text


async def test_twin_maps_in_glyph_mode_use_class_glyphs_and_digits() -> None:
    snap = session(extra=BUTTERFLY).snapshot(grid=GRID)
    panel = TwinPanel(glyphs=True)
    app = Host(panel)
    allowed = set("".join(ASCII_CLASS_GLYPHS)) | set("0123456789!?")
    async with app.run_test(size=(80, 24)) as pilot:
        panel.show(snap)
        await settle(pilot)
        for plane in panel.query(PlaneView):
            chars = set("".join(screen_lines(app, plane)))
            assert chars <= allowed
            assert {"0", "1"} <= chars  # training points drawn as their labels


# Every widget


def every_widget() -> list[tuple[str, Callable[[], Widget], Snapshot]]:
    plain = session().snapshot(grid=GRID)
    twins = session(extra=BUTTERFLY).snapshot(grid=GRID)
    return [
        ("architecture", ArchitectureView, plain),
        ("loss", LossPanel, plain),
        ("chart", LossChart, plain),
        ("maps", NeuronMaps, plain),
        ("twins", TwinPanel, twins),
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
        widget.show(snap)  # type: ignore[attr-defined]
        await settle(pilot)
        calls = count_refreshes(monkeypatch, widget)
        widget.show(snap)  # type: ignore[attr-defined]
        await settle(pilot)
        assert calls == []


async def test_thumbnails_draw_only_on_change(monkeypatch: pytest.MonkeyPatch) -> None:
    s = session()
    thumbs = NeuronThumbnails()
    app = Host(thumbs)
    builds: list[int] = []
    original = NeuronThumbnails._build

    def spy(self: NeuronThumbnails, width: int, height: int) -> list:
        builds.append(width)
        return original(self, width, height)

    monkeypatch.setattr(NeuronThumbnails, "_build", spy)
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
