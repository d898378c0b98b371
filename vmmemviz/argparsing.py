"""The command line's ArgumentParser: a bad argument is one line and exit status 2.

argparse prints the usage and then the error; ``ArgumentParser`` here prints only
``PROG: error`` (control characters escaped), as every other bad input does. Sub-parsers
made with ``add_subparsers`` are of the same class. ``bounded_int(lo, hi, why)`` and
``bounded_float`` are argument types that name their limits; ``scenario_name`` one that is
not empty.
"""
from __future__ import annotations

import argparse
import sys

from vmmemviz.errors import one_line


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def bounded_int(lo: int, hi: int, why: str = ""):
    """An argparse type: an integer from ``lo`` to ``hi``; ``why`` says where ``hi`` comes from."""
    def parse(text: str) -> int:
        try:
            v = int(text, 10)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            limit = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"expected an integer from {lo:,} to {hi:,}{limit}, "
                                             f"got {text!r}")
        return v
    parse.__name__ = "integer"
    return parse


def bounded_float(lo: float, hi: float, why: str = ""):
    """An argparse type: a finite number from ``lo`` to ``hi`` (no NaN, no infinity); ``why``
    says where the limits come from."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:        # NaN compares false: refused too
            limit = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"expected a number from {lo:,g} to {hi:,g}{limit}, got {text!r}")
        return v
    parse.__name__ = "number"
    return parse


def scenario_name(text: str) -> str:
    """An argparse type: a scenario file or built-in name, not empty (an empty ``--compare ""``
    was taken for none, and one run made where two were asked for)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a scenario file or name, got an empty one")
    return text


scenario_name.__name__ = "scenario"


def print_error(prog: str, err: Exception) -> int:
    """The one line for an InputError on stderr; returns the exit status 2."""
    print(f"{prog}: {err}", file=sys.stderr)
    return 2
