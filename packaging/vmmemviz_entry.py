"""Entry script that PyInstaller freezes: whatever vmmemviz.cli becomes, the
frozen `vmmemviz` executable is `vmmemviz.cli.main()` with the process's argv.

VMMEMVIZ_BUNDLE_SELFTEST=OUT.png (or =1) runs packaging/bundle_selftest.py
instead: a smoke test of the bundle that does not depend on the CLI."""
import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # harmless when unused; needed if workers ever spawn
    selftest = os.environ.get("VMMEMVIZ_BUNDLE_SELFTEST")
    if selftest:
        import bundle_selftest

        sys.exit(bundle_selftest.run("" if selftest == "1" else selftest))
    from vmmemviz.cli import main

    sys.exit(main())
