"""``python -m momentstream``."""

import sys

from momentstream.cli.commands import main

sys.exit(main())
