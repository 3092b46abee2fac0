"""The bundle's entry point: ``refrain`` as the frozen app runs it."""

import multiprocessing
import os

if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes (the app's jobs, batches) re-enter here
    # The engine's compiled kernels go under Refrain's own cache folder, not numba's shared one, so that
    # `packaging/install.sh --uninstall` can remove them with the app.
    import platformdirs

    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(platformdirs.user_cache_dir("refrain"), "numba"))
    from app.cli import main

    raise SystemExit(main())
