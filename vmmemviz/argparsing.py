"""The command line's ArgumentParser: a bad argument is one line and exit status 2.

argparse prints the usage and then the error; ``ArgumentParser`` here prints only
``PROG: error`` (control characters escaped), as every other bad input does. Sub-parsers
made with ``add_subparsers`` are of the same class. ``bounded_int(lo, hi, why)`` and
``bounded_float`` are argument types that name their limits, ``integer`` and ``decimal`` ones of any size, all
in ASCII digits (``ascii_int``, ``ascii_float``); ``scenario_name`` one that is not empty.
"""
from __future__ import annotations

import argparse
import re
import sys

from vmmemviz.errors import one_line


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


# numbers as typed: ASCII digits. int() and float() read more (1_000, Arabic-Indic and
# full-width digits, a no-break space around them), nothing anyone means on a command line
_INTEGER = re.compile(r"[ \t]*[-+]?[0-9]+[ \t]*", re.ASCII)
_DECIMAL = re.compile(r"[ \t]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*", re.ASCII)


def ascii_int(text: str) -> int | None:
    """``text`` as an integer in ASCII digits, else None."""
    return int(text) if _INTEGER.fullmatch(text) else None


def ascii_float(text: str) -> float | None:
    """``text`` as a decimal number in ASCII digits (no NaN, no infinity), else None."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def integer(text: str) -> int:
    """An argparse type: an integer in ASCII digits, of any sign."""
    v = ascii_int(text)
    if v is None:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return v


def decimal(text: str) -> float:
    """An argparse type: a decimal number in ASCII digits (no NaN, no infinity), of any size."""
    v = ascii_float(text)
    if v is None:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return v


def bounded_int(lo: int, hi: int, why: str = ""):
    """An argparse type: an integer from ``lo`` to ``hi``; ``why`` says where ``hi`` comes from."""
    def parse(text: str) -> int:
        v = ascii_int(text)
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
        v = ascii_float(text)
        if v is None or not lo <= v <= hi:
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
