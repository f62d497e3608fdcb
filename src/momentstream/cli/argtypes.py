"""Argument types shared by the command lines: a bad value is a one-line argparse error, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from momentstream.core.clock import parse_duration, parse_instant

__all__ = [
    "ConfigurationError",
    "duration",
    "instant",
    "moments_options",
    "open_out",
    "positive_duration",
    "positive_int",
    "quiet_option",
]


def duration(text: str) -> int:
    """``19h``, ``1d12h``, ``0s`` in milliseconds.

    >>> duration("1d12h")
    129600000
    """
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive_duration(text: str) -> int:
    """A duration longer than zero."""
    ms = duration(text)
    if ms <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0s, not {text!r}")
    return ms


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def share(text: str) -> float:
    """A share from 0 to 1 (``0.3``, or ``30%``)."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.3 or 30%, not {text!r}") from None
    if not 0 <= value <= 1:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be from 0 to 1 (0% to 100%), not {text!r}")
    return value


def instant(text: str) -> int:
    """An ISO time with a timezone, in epoch milliseconds."""
    try:
        return parse_instant(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class ConfigurationError(ValueError):
    """A command's input or option cannot be used; printed as one line, exit code 2."""


def moments_options(parser: argparse.ArgumentParser) -> None:
    """-c/--moments, --objectives and --no-scoring, as every command that runs moments takes them."""
    parser.add_argument("-c", "--moments", type=Path, help="moments YAML file (default: the bundled example)")
    parser.add_argument("--objectives", type=Path,
                        help="objectives YAML for scoring (default: the bundled churn/expansion/advocacy)")  # fmt: skip
    parser.add_argument("--no-scoring", action="store_true", help="no models: triggers carry no score")


def quiet_option(parser: argparse.ArgumentParser) -> None:
    """-q/--quiet."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


@contextlib.contextmanager
def open_out(path: str | None) -> Iterator[IO[str] | None]:
    """An output file (parents made), standard output for ``-``, nothing for None."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with Path(path).open("w") as handle:
            yield handle
