"""``python -m momentstream``."""

import sys

from momentstream.cli import main

sys.exit(main())
