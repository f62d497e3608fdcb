"""Every command of ``momentstream``: one module per command group, argparse wiring and printing only.

The logic lives below (discovery, the runtimes, the core); :mod:`~momentstream.cli.commands` builds the
parser and dispatches.
"""

from momentstream.cli.commands import main

__all__ = ["main"]
