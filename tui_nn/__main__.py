"""`python -m tui_nn` runs the command line."""

import sys

from tui_nn.launch import main

sys.exit(main())
