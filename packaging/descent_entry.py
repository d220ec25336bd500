"""The frozen app's entry point (PyInstaller, packaging/descent.spec): the `descent` command.

Frozen, numba's cache cannot live beside the (read-only) bundled modules: it is asked to use the
user's cache folder (~/.cache/Descent/numba). numba honours that only for functions whose source
file exists, so the spec ships the kernel modules as .py files (module_collection_mode); for any
other it falls back to its own user-wide folder (~/.cache/numba), writable too. freeze_support lets
worker processes (multiprocessing's spawn) start the bundle again as a worker instead of a
second app.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if getattr(sys, "frozen", False) and "NUMBA_CACHE_DIR" not in os.environ:
        from platformdirs import user_cache_dir

        os.environ["NUMBA_CACHE_DIR"] = os.path.join(user_cache_dir("Descent", "Descent"), "numba")
    from desktop.cli import main

    sys.exit(main())
