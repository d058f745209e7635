"""The `tui-nn` console script: the cyclic collector sleeps while the program starts.

Start-up makes hundreds of thousands of objects that live as long as the program (modules,
classes, widgets, styles, the scenario's data), and almost none of them is garbage. The
collector still walks them, again and again as they are made: 25 young and 3 full collections,
about 110 ms of the 680 ms before the trainer's first frame (moons at 120x40). So it is off
until the program knows what it runs: a headless command turns it on before it starts work, and
the trainer once its first frame is drawn (``TuiNN.freeze_startup_heap``).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``tui_nn.cli.main``) with the collector off until it has started."""
    gc.disable()
    try:
        from tui_nn.cli import main as run
    except BaseException:
        gc.enable()
        raise
    return run(argv)
