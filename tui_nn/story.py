"""Experiment views as text: the same words in the trainer's panel and the headless summary.

Builds Rich ``Text`` from an ``ExperimentView`` (figures with their meanings, the table, the
active-unit histogram, the notes). The trainer puts it in its experiment panel; `tui-nn run`
prints it. Nothing here imports Textual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from engine.experiments.view import ExperimentView, Figure, Table
from engine.text import neutralise

DEFAULT_CLASS_STYLES = (
    Style(color="rgb(52,120,220)"),
    Style(color="rgb(240,140,30)"),
    Style(color="rgb(60,180,90)"),
    Style(color="rgb(200,70,170)"),
)
"""Class colours for text outside the trainer (which takes them from its theme)."""


def clean(text: str) -> str:
    """Text from a file made safe to print: control characters shown as '?' (see
    ``engine.text.neutralise``, the one rule for the headless output and the app).

    Titles, descriptions and captions come from scenario files; an escape sequence in one
    must never reach the terminal as an instruction.
    """
    return neutralise(text)


def plain(text: str) -> Text:
    """Text from a file as a Rich ``Text``: neutralised, one line, never parsed as markup."""
    return Text(neutralise(text, newlines=False))


def figure_lines(
    figures: Sequence[Figure],
    width: int,
    *,
    meanings: bool = True,
    label_style: Style | None = None,
    value_style: Style | None = None,
    muted: Style | None = None,
    wrap: bool = False,
) -> Text:
    """One line per shown figure, 'label  value', each followed by its meaning (dimmed).

    Args:
        figures: The figures, in order (those with ``shown=False`` are left out).
        width: Cells available; the meaning is wrapped to it.
        meanings: Add each figure's meaning under it.
        label_style: Style of the labels.
        value_style: Style of the values.
        muted: Style of the meanings.
        wrap: Wrap a long meaning over several lines instead of cutting it to one.
    """
    label_style = label_style or Style()
    value_style = value_style or Style(bold=True)
    muted = muted or Style(dim=True)
    shown = [f for f in figures if f.shown]
    column = min(max((len(f.label) for f in shown), default=0) + 2, max(8, width // 2))
    text = Text()
    for i, f in enumerate(shown):
        if i:
            text.append("\n")
        text.append(f.label[: column - 1].ljust(column), label_style)
        text.append(f.text, value_style)
        if meanings:
            text.append("\n")
            text.append(
                _indent(f.meaning, width, 2) if wrap else _one_line(f.meaning, width, 2), muted
            )
    return text


def _indent(text: str, width: int, indent: int) -> str:
    """``text`` wrapped to ``width`` columns, every line indented."""
    room = max(10, width - indent)
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > room:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(" " * indent + line for line in lines)


def _one_line(text: str, width: int, indent: int) -> str:
    """``text`` on one indented line, cut with '…' to fit ``width``."""
    room = max(10, width - indent)
    return " " * indent + (text if len(text) <= room else text[: room - 1] + "…")


def table_text(table: Table, *, header: Style | None = None, width: int | None = None) -> Text:
    """A small table as aligned text (numbers right-aligned).

    A table wider than ``width`` is shown row by row instead: the first cell on a line, then
    the other columns as 'name value' pairs, wrapped and indented.
    """
    header = header or Style(bold=True)
    widths = [
        max(len(table.columns[c]), *(len(row[c]) for row in table.rows))
        for c in range(len(table.columns))
    ]
    if width is not None and sum(widths) + 2 * (len(widths) - 1) > width:
        stacked = Text()
        for i, row in enumerate(table.rows):
            stacked.append(("\n" if i else "") + row[0], header)
            pairs = " · ".join(
                f"{name} {cell}" for name, cell in zip(table.columns[1:], row[1:], strict=True)
            )
            stacked.append("\n" + _indent(pairs, width, 2))
        return stacked
    text = Text(no_wrap=True, overflow="ellipsis")

    def cells(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    text.append(cells(table.columns), header)
    for row in table.rows:
        text.append("\n" + cells(row))
    return text


def histogram_text(
    counts: dict[int, tuple[int, ...]],
    width: int,
    glyphs: bool = False,
    class_styles: Sequence[Style] = DEFAULT_CLASS_STYLES,
) -> Text:
    """Per class, bars of how many inputs have exactly k active hidden units, and the mean.

    Args:
        counts: {class: histogram}, histogram[k] = inputs with exactly k active units.
        width: Cells available.
        glyphs: '#' bars without colour instead of coloured blocks.
        class_styles: The colour of each class's bars.

    Returns:
        A header, a line of means, and one line per k that occurs.
    """
    text = Text(no_wrap=True, overflow="crop")
    if not counts:
        text.append("no active-unit counts", Style(dim=True))
        return text
    classes = sorted(counts)
    k_max = max((len(h) for h in counts.values()), default=0)
    used = [k for k in range(k_max) if any(k < len(counts[c]) and counts[c][k] for c in classes)]
    column = max(6, (width - 4) // len(classes))
    top = max((max(h, default=0) for h in counts.values()), default=0) or 1
    text.append("active units per input, by class", Style(bold=True))
    text.append("\n  k ")
    for c in classes:
        total = sum(counts[c])
        mean = sum(k * n for k, n in enumerate(counts[c])) / total if total else math.nan
        text.append(f" {c}: mean {mean:.2f}".ljust(column)[:column])
    for k in used:
        text.append(f"\n{k:3d} ")
        for i, c in enumerate(classes):
            n = counts[c][k] if k < len(counts[c]) else 0
            number = f"{n:d}"
            room = max(1, column - len(number) - 2)
            length = n / top * room
            full = int(length)
            partial = "" if glyphs else " ▏▎▍▌▋▊▉"[int((length - full) * 8)].strip()
            bar = ("#" if glyphs else "█") * full + partial
            colour = Style() if glyphs else class_styles[i % len(class_styles)]
            text.append(" " + bar, colour)
            text.append(" " + number + " " * max(0, column - len(bar) - len(number) - 2))
    return text


def block_text(
    view: ExperimentView,
    width: int,
    *,
    glyphs: bool = False,
    class_styles: Sequence[Style] = DEFAULT_CLASS_STYLES,
) -> Text | None:
    """An experiment's table or histogram, the picture its figures describe (or None)."""
    if view.table is not None:
        return table_text(view.table, width=width)
    if view.histogram:
        return histogram_text(view.histogram, width, glyphs, class_styles)
    return None


def shown_figures(view: ExperimentView) -> list[Figure]:
    """The figures a panel lists: those marked shown, unless a table already holds them."""
    return [] if view.table is not None else [f for f in view.figures if f.shown]


def listing_text(lines: Sequence[str], width: int, style: Style | None = None) -> Text:
    """Lines shown as they are (cut to ``width``), e.g. a pickle's opcodes, from a file: cleaned."""
    text = Text(no_wrap=True, overflow="crop")
    for i, line in enumerate(lines):
        shown = clean(line).replace("\n", " ")
        text.append(
            ("\n" if i else "") + (shown if len(shown) <= width else shown[: width - 1] + "…")
        )
    if style is not None:
        text.stylize(style)
    return text


def experiment_text(
    view: ExperimentView,
    width: int,
    *,
    glyphs: bool = False,
    title: Style | None = None,
    muted: Style | None = None,
    class_styles: Sequence[Style] = DEFAULT_CLASS_STYLES,
    wrap: bool = False,
    notes: bool = True,
) -> Text:
    """A whole experiment, in the panel's order: title, headline, table or histogram, figures
    with their meanings, notes.

    ``wrap`` wraps each figure's meaning (a report); otherwise it is cut to one line (a panel).
    Without ``notes`` the notes are left for ``notes_text`` (a panel puts them under a chart).
    """
    title = title or Style(bold=True)
    text = Text()
    text.append(view.title, title)
    text.append("\n")
    text.append(_indent(view.headline, width, 0))
    block = block_text(view, width, glyphs=glyphs, class_styles=class_styles)
    if block is not None:
        text.append("\n\n")
        text.append(block)
    figures = shown_figures(view)
    if figures:
        text.append("\n\n")
        text.append(figure_lines(figures, width, muted=muted, wrap=wrap))
    if view.listing:
        text.append("\n\n")
        text.append(listing_text(view.listing, width, muted))
    if notes and view.notes:
        text.append("\n\n")
        text.append(notes_text(view, width, muted=muted))
    return text


def notes_text(view: ExperimentView, width: int, *, muted: Style | None = None) -> Text:
    """An experiment's notes, one paragraph each."""
    text = Text()
    for i, note in enumerate(view.notes):
        text.append("\n\n" if i else "")
        text.append(_indent(note, width, 0), muted or Style(dim=True))
    return text
