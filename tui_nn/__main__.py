"""`python -m tui_nn` runs the command line."""

import sys

from tui_nn.cli import main

sys.exit(main())
