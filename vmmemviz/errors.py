"""One error type for bad input: its message is the one line the user sees."""
from __future__ import annotations

import unicodedata


def one_line(text: str) -> str:
    """``text`` with control and line-separator characters escaped (``\\n``, ``\\x00``...)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else
                   c.encode("unicode_escape").decode("ascii") if unicodedata.category(c)[0] in "CZ"
                   else c for c in text)


class InputError(Exception):
    """Bad input: a file, a line or field, and what was expected, in one line.

    The CLI prints ``str(err)`` and exits 2; the GUI shows it in a message box.
    Build the message as ``f"{path}:{line}: {field}: expected ..., got ..."``
    (or ``f"{path}: {field}: ..."`` when there is no line). Control characters in the
    message (a name or path with a newline) are escaped, so it stays one line.
    """

    def __init__(self, message: str = ""):
        super().__init__(one_line(str(message)))
