"""One error type for bad input: its message is the one line the user sees."""


class InputError(Exception):
    """Bad input: a file, a line or field, and what was expected, in one line.

    The CLI prints ``str(err)`` and exits 2; the GUI shows it in a message box.
    Build the message as ``f"{path}:{line}: {field}: expected ..., got ..."``
    (or ``f"{path}: {field}: ..."`` when there is no line).
    """
