"""The CLI reference page (``docs/reference/cli.md``), generated from the argparse parser itself.

``python -m momentstream.devtools.cli_reference > docs/reference/cli.md``; a test fails when the page and
the parser disagree, so the reference cannot drift from ``--help``.
"""

from __future__ import annotations

import argparse
import os

from momentstream.cli.commands import build_parser

__all__ = ["cli_reference"]


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, f"{prefix} {name}")
    return found


def cli_reference() -> str:
    """Markdown: every command's ``--help``, in the order of ``momentstream --help``."""
    os.environ["COLUMNS"] = "120"  # argparse wraps at the terminal's width: fix it for a stable page
    lines = ["# Command line", "", "Generated from the parser (`python -m momentstream.devtools.cli_reference`);",
             "each section is what `--help` prints.", ""]  # fmt: skip
    for name, parser in _commands(build_parser(), "momentstream"):
        lines += [f"## `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(cli_reference(), end="")
