"""Command line: `vmmemviz` (GUI), `vmmemviz run`, ... (filled in as the mechanisms land)."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("vmmemviz: nothing here yet", file=sys.stderr)
    return 2
