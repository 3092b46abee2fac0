"""The bundle's entry point: ``refrain`` as the frozen app runs it."""

import multiprocessing

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes (the app's jobs, batches) re-enter here
    raise SystemExit(main())
