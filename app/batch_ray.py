"""Batches on a Ray cluster (``refrain separate|split|transcribe INPUTS --out OUT --ray ADDRESS``): the same
manifest and per-input work as :mod:`app.batch`, with each input a Ray task (one CPU) that reads its input and
writes ``OUT/<name>/`` through paths every node shares (NFS or the like), so this process only schedules and
keeps the manifest. A task whose worker or node is lost is retried by Ray elsewhere; each input's outputs are
written all or nothing, so a retry finishes the input exactly once. Needs the ``cluster`` extra
(``pip install -e .[cluster]``) here and on every node, with Refrain installed at the same path."""

from __future__ import annotations

import logging
import time
from typing import Any

from app.batch import Item, Manifest, Report, failure_text, timed_process_one
from engine.errors import UserError
from engine.files import remove_temporaries

RETRIES = 3  # attempts after a lost worker or node, per input


def _connect(address: str) -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs the cluster extra: pip install -e '.[cluster]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"cannot reach the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    return ray


def run_ray(manifest: Manifest, todo: list[Item], address: str, report: Report | None = None) -> dict[str, int]:
    """Process ``todo`` (items of the manifest) as tasks on the Ray cluster at ``address`` ('auto' or
    host:port). Ctrl-C cancels the tasks still running and saves the manifest with them pending."""
    ray = _connect(address)
    if not todo:
        return manifest.counts()
    task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(timed_process_one)
    refs = {}
    for item in todo:
        item.state, item.error = "pending", ""
        out_dir = str(manifest.out / item.name)
        refs[task.remote(manifest.command, manifest.options, item.input, out_dir, 1)] = (item, time.monotonic())
    t0, finished = time.monotonic(), 0
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                item, started = refs.pop(ref)
                seconds = time.monotonic() - started
                try:
                    outputs, seconds = ray.get(ref)
                    item.outputs, item.state, item.error = list(outputs), "done", ""
                except ray.exceptions.RayTaskError as exc:  # the input itself failed (the cause is in the task)
                    item.state, item.error = "failed", failure_text(exc.cause if exc.cause is not None else exc)
                except ray.exceptions.RayError as exc:  # lost more often than the retries allow
                    item.state, item.error = "failed", f"cluster: {type(exc).__name__}"
                item.seconds = round(seconds, 2)  # the task's own time when it finished, else since submitted
                remove_temporaries(manifest.out / item.name)  # what an attempt on a lost worker left
                finished += 1
                manifest.save([item])
                if report is not None:
                    elapsed = time.monotonic() - t0
                    report(item, manifest.counts(), elapsed / finished * (len(todo) - finished))
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        ray.wait(list(refs), num_returns=len(refs), timeout=10.0)  # the killed tasks stop writing first
        for item, _ in refs.values():
            remove_temporaries(manifest.out / item.name)
        manifest.save(todo)
        raise
    return manifest.counts()
