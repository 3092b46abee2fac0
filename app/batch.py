"""Batch work: ``refrain separate|split|transcribe`` over a folder or several files, on ``--jobs N`` worker
processes here or as tasks on a Ray cluster (:mod:`app.batch_ray`).

Each input's results go to ``OUT/<input name without suffix>/`` (``OUT/song 01/vocals.wav``), written all or
nothing by the single-file runtimes. ``OUT/refrain-batch.json`` is the manifest: the command, its options and
each input's state (``pending``, ``done``, ``failed`` with the one-line reason). It is rewritten atomically
after every file, so a batch stopped by Ctrl-C, a crash or a lost machine resumes where it stopped: a rerun
skips the inputs already done (whose outputs are all still there) and tries the rest again. One bad file is
recorded as failed and the batch goes on."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

from engine.audio_io import AUDIO_SUFFIXES
from engine.errors import UserError
from engine.files import atomic_path, remove_temporaries

MANIFEST = "refrain-batch.json"
MANIFEST_VERSION = 1
COMMANDS = ("separate", "split", "transcribe")


@dataclass
class Item:
    """One input of the batch. ``name`` is its output folder under OUT (unique within the batch)."""

    input: str
    name: str
    state: str = "pending"  # pending | done | failed
    error: str = ""
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)


def gather(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The audio files named by ``inputs``: files as given, folders as their audio files (by suffix, sorted,
    not recursive). Raises UserError for a missing path or when nothing is left."""
    out: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"no such file or folder: {raw}")
    seen: set[str] = set()
    unique = []
    for p in out:
        if os.path.abspath(p) not in seen:
            seen.add(os.path.abspath(p))
            unique.append(p)
    if not unique:
        raise UserError("no audio files to process in " + ", ".join(map(str, inputs)))
    return unique


def is_batch(inputs: Sequence[str | os.PathLike[str]]) -> bool:
    """Several inputs, or a folder: the batch layout (one output folder per input) applies."""
    return len(inputs) != 1 or Path(inputs[0]).is_dir()


class Manifest:
    """``OUT/refrain-batch.json``: the command, its options and every input's :class:`Item`."""

    def __init__(self, out: Path, command: str, options: dict[str, Any], items: list[Item]) -> None:
        self.out, self.command, self.options, self.items = out, command, options, items

    @property
    def path(self) -> Path:
        return self.out / MANIFEST

    @classmethod
    def open(cls, out: Path, command: str, options: dict[str, Any], inputs: Iterable[Path]) -> Manifest:
        """Load the batch in ``out`` (or start one) and add ``inputs`` it does not hold yet. Raises UserError
        when ``out`` holds a batch of another command or other options (its results would be mixed)."""
        items: list[Item] = []
        if (out / MANIFEST).exists():
            try:
                data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
                items = [Item(**d) for d in data["items"]]
                same = data["command"] == command and data["options"] == options
            except (OSError, ValueError, KeyError, TypeError) as exc:
                bad = f"{out / MANIFEST} is not a Refrain batch manifest ({exc})"
                raise UserError(f"{bad}; use another --out") from None
            if not same:
                if data["command"] != command:
                    raise UserError(f"{out} holds a batch of '{data['command']}'; use another --out")
                theirs = data["options"]
                differ = ", ".join(f"{k}={theirs.get(k)!r}" for k in sorted(set(options) | set(theirs))
                                   if theirs.get(k) != options.get(k))  # fmt: skip
                raise UserError(f"{out} holds a batch made with {differ}; use another --out or the same options")
        m = cls(out, command, options, items)
        m.add(inputs)
        return m

    def add(self, inputs: Iterable[Path]) -> list[Item]:
        """The items of ``inputs``, adding those the batch does not hold yet (each with a unique name)."""
        by_input = {i.input: i for i in self.items}
        names = {i.name.casefold() for i in self.items}
        out = []
        for p in inputs:
            path = os.path.abspath(p)
            if path not in by_input:
                name, k = p.stem or "input", 2
                while name.casefold() in names:  # two inputs called "song.wav" in different folders
                    name, k = f"{p.stem} ({k})", k + 1
                names.add(name.casefold())
                by_input[path] = Item(path, name)
                self.items.append(by_input[path])
            out.append(by_input[path])
        return out

    def todo(self, items: Iterable[Item] | None = None) -> list[Item]:
        """Of ``items`` (default: all), those to process: not done, or done but with an output gone since."""
        pool = self.items if items is None else list(items)
        return [i for i in pool if i.state != "done" or not all(Path(o).exists() for o in i.outputs)]

    def save(self, changed: Iterable[Item] | None = None) -> None:
        """Write the manifest atomically. With ``changed`` (the items this process just set), the file is
        first read again and every other input takes the state found there, so a batch the command line
        and the app (or two runs) work on at once keeps both sides' results."""
        if changed is not None and self.path.exists():
            mine = {i.input for i in changed}
            try:
                disk = {d["input"]: Item(**d) for d in json.loads(self.path.read_text(encoding="utf-8"))["items"]}
            except (OSError, ValueError, KeyError, TypeError):
                disk = {}
            for i in self.items:
                theirs = disk.get(i.input)
                if i.input not in mine and theirs is not None:
                    i.state, i.error, i.outputs, i.seconds = theirs.state, theirs.error, theirs.outputs, theirs.seconds
            known = {i.input for i in self.items}
            self.items.extend(d for k, d in disk.items() if k not in known)
        data = {
            "format": "refrain-batch",
            "version": MANIFEST_VERSION,
            "command": self.command,
            "options": self.options,
            "items": [asdict(i) for i in self.items],
        }
        with atomic_path(self.path, make_folders=True) as tmp:
            tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "failed": 0, "pending": 0}
        for i in self.items:
            out[i.state] = out.get(i.state, 0) + 1
        return out


# -- one input (in a worker process, or a Ray task) ---------------------------------------------------------
_loaded: dict[tuple[str, str], Any] = {}


def _model(family: str, name: str, threads: int) -> Any:
    from models.platform.registry import load_model

    key = (family, name)
    if key not in _loaded:  # once per worker: every file after the first reuses the session
        _loaded[key] = load_model(name, family, threads)
    return _loaded[key]


def process_one(
    command: str,
    options: dict[str, Any],
    src: str,
    out_dir: str,
    threads: int = 1,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[str]:
    """Run ``command`` on one input into ``out_dir``; returns the files written. Raises what the
    single-file runtime raises (UserError for a bad input, Cancelled when ``cancel`` turns true)."""
    if command == "separate":
        from models.separator.runtime import separate_file

        sep = _model("separator", options["model"], threads)
        stems, without, bits = options.get("stems"), options.get("without"), options.get("bits")
        res = separate_file(src, out_dir, stems, without, sep, bits, progress=progress, cancel=cancel)
        return [str(p) for p in res.values()]
    if command == "split":
        from models.splitter.runtime import split_file

        sp = _model("splitter", options["model"], threads)
        res = split_file(src, out_dir, options.get("sources"), sp, options.get("bits"), progress, cancel)
        return [str(p) for p in res.values()]
    if command == "transcribe":
        from models.features.transcribe import transcribe_file

        dst = Path(out_dir) / f"{Path(out_dir).name}.mid"
        kw = {k: options[k] for k in ("program", "tempo_bpm", "onset_threshold", "frame_threshold", "min_note_ms")}
        made = not dst.parent.exists()
        dst.parent.mkdir(parents=True, exist_ok=True)  # the input's own folder, as separate and split make it
        try:
            transcribe_file(src, dst, progress=progress, cancelled=cancel, **kw)
        except BaseException:
            if made:
                remove_temporaries(dst.parent)  # nothing of a failed input stays, its folder included
            raise
        return [str(dst)]
    raise UserError(f"not a batch command: {command}")


def timed_process_one(
    command: str, options: dict[str, Any], src: str, out_dir: str, threads: int = 1
) -> tuple[list[str], float]:
    """:func:`process_one` and the seconds it took (a Ray task's own time, not the batch's)."""
    t0 = time.monotonic()
    return process_one(command, options, src, out_dir, threads), time.monotonic() - t0


def failure_text(exc: BaseException) -> str:
    """One line for the manifest and the log."""
    if isinstance(exc, UserError):
        return str(exc).splitlines()[0] if str(exc) else "bad input"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


# -- local worker processes ---------------------------------------------------------------------------------
def _worker(conn: Connection, threads: int) -> None:
    """One worker process: inputs arrive on its own pipe one at a time and results go back on it (no queue
    shared between workers, whose lock a killed worker could take with it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's: it stops the workers itself
    while True:
        task = conn.recv()
        if task is None:
            return
        key, command, options, src, out_dir = task
        t0 = time.monotonic()
        try:
            outputs = process_one(command, options, src, out_dir, threads)
            conn.send((key, "done", "", outputs, time.monotonic() - t0))
        except Exception as exc:  # one bad file must not stop the batch
            conn.send((key, "failed", failure_text(exc), [], time.monotonic() - t0))


Report = Callable[[Item, dict[str, int], float | None], None]


def run_local(manifest: Manifest, todo: list[Item], jobs: int, report: Report | None = None) -> dict[str, int]:
    """Process ``todo`` (items of the manifest) on ``jobs`` worker processes (threads split the cores
    between them), handing each idle worker the next input. A worker that dies (killed, crashed in native
    code) fails the input it held and is replaced. Ctrl-C stops the workers at once, clears the files they
    had half written and saves the manifest with those inputs pending; KeyboardInterrupt is then raised."""
    if not todo:
        return manifest.counts()
    jobs = max(1, min(jobs, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = mp.get_context("spawn")  # fresh interpreters: onnxruntime's threads do not survive a fork
    for i in todo:
        i.state, i.error = "pending", ""
    waiting = list(reversed(todo))  # popped from the end: in order
    workers: dict[Any, tuple[Any, Item | None]] = {}  # pipe -> (process, the input it holds)
    t0, finished = time.monotonic(), 0

    def hand_out(conn: Any) -> None:
        item = waiting.pop() if waiting else None
        proc = workers[conn][0]
        workers[conn] = (proc, item)
        task = None if item is None else (item.input, manifest.command, manifest.options, item.input,
                                          str(manifest.out / item.name))  # fmt: skip
        conn.send(task)

    def spawn() -> None:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, threads), daemon=True)
        proc.start()
        child.close()
        workers[parent] = (proc, None)
        hand_out(parent)

    def settle(item: Item, state: str, error: str, outputs: list[str], seconds: float) -> None:
        nonlocal finished
        item.state, item.error, item.outputs, item.seconds = state, error, list(outputs), round(seconds, 2)
        finished += 1
        manifest.save([item])
        if report is not None:
            elapsed = time.monotonic() - t0
            report(item, manifest.counts(), elapsed / finished * (len(todo) - finished))

    try:
        for _ in range(jobs):
            spawn()
        while finished < len(todo):
            by_sentinel: dict[Any, Any] = {proc.sentinel: conn for conn, (proc, _) in workers.items()}
            for ready in wait_for([*workers, *by_sentinel], timeout=1.0):
                conn: Any = by_sentinel.get(ready, ready)
                if conn not in workers:
                    continue  # already handled through its pipe or its sentinel
                proc, item = workers[conn]
                msg: Any = None
                if ready is not proc.sentinel:  # the pipe spoke (the sentinel: the process ended)
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        msg = None
                if msg is not None and item is not None:
                    _key, state, error, outputs, seconds = msg
                    settle(item, str(state), str(error), list(outputs), float(seconds))
                    hand_out(conn)
                    continue
                proc.join(5)  # the worker ended: done (no input held) or died holding one
                del workers[conn]
                conn.close()
                if item is not None:
                    remove_temporaries(manifest.out / item.name)
                    settle(item, "failed", f"the worker process died (exit code {proc.exitcode})", [], 0.0)
                    if waiting:
                        spawn()
    except BaseException:
        for proc, _ in workers.values():
            if proc.is_alive():
                proc.kill()
        for proc, item in workers.values():
            proc.join(5)
            if item is not None and item.state == "pending":
                remove_temporaries(manifest.out / item.name)
        manifest.save(todo)
        raise
    for conn, (proc, item) in list(workers.items()):
        if item is not None or proc.is_alive():
            with contextlib.suppress(OSError):
                conn.send(None)
        proc.join(5)
    return manifest.counts()
