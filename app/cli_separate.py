"""``refrain separate``, ``refrain split`` and ``refrain transcribe``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

BATCH_EPILOG = (
    "Several inputs or a folder: each input's results go to OUT/<input name>/, and OUT/refrain-batch.json records "
    "what is done, so running the same command again skips finished inputs and retries the rest."
)


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = BATCH_EPILOG
    p.add_argument("--jobs", type=int, default=1, help="worker processes for several inputs (default 1)")
    p.add_argument("--ray", metavar="ADDRESS", help="run the inputs as tasks on a Ray cluster ('auto' or host:port)")


def run_batch(command: str, a: argparse.Namespace, options: dict[str, Any]) -> int:
    """The batch form of a command: every input into OUT/<name>/, resumable through the manifest."""
    import sys

    from app.batch import Manifest, gather, run_local
    from engine.errors import UserError

    if a.jobs < 1:
        raise UserError(f"--jobs must be at least 1, not {a.jobs}")
    out = Path(a.out).resolve()  # workers (other processes, other machines) and reruns elsewhere share it
    if out.exists() and not out.is_dir():
        raise UserError(f"--out must be a folder for several inputs: {out} is a file")
    manifest = Manifest.open(out, command, options, [])
    items = manifest.add(gather(a.input))  # this run's inputs (the manifest may hold others from earlier runs)
    manifest.save(items)  # an output folder that cannot be written fails here, in one line, before any work
    todo = manifest.todo(items)
    total = len(items)
    print(f"{total} inputs: {total - len(todo)} already done, {len(todo)} to {command}", file=sys.stderr)

    def report(item: Any, _counts: dict[str, int], eta: float | None) -> None:
        left = sum(i.state == "pending" for i in items)
        what = "done  " if item.state == "done" else "FAILED"
        tail = f": {item.error}" if item.error else f" ({item.seconds:.1f} s)"
        eta_text = f", ETA {eta:.0f} s" if eta is not None and left else ""
        print(f"{what} {item.name}{tail}  [{total - left}/{total}{eta_text}]", file=sys.stderr, flush=True)

    try:
        if a.ray:
            from app.batch_ray import run_ray

            run_ray(manifest, todo, a.ray, report)
        else:
            run_local(manifest, todo, a.jobs, report)
    except KeyboardInterrupt:
        finished = sum(i.state == "done" for i in items)
        print(
            f"refrain: interrupted: {finished} done, {total - finished} to go; run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    for item in items:
        print(f"{item.state}\t{out / item.name}" + (f"\t{item.error}" if item.error else ""))
    failed = sum(i.state == "failed" for i in items)
    if failed:
        print(f"refrain: error: {failed} of {total} inputs failed (see above)", file=sys.stderr)
        return 2
    return 0


def add_separate_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "separate",
        help="split a song into stems (drums, bass, vocals, other)",
        description="Write OUT/<stem>.wav for each stem at the input's sample rate and channel count; the stems "
        "add up to the input. Nothing is written unless every stem completes.",
    )
    p.add_argument("input", nargs="+", help="audio file(s) or folder(s) (WAV, FLAC, OGG, Opus, MP3, AIFF)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the stems (created if missing)")
    p.add_argument("--stems", default=None, help="comma-separated subset, e.g. vocals,drums (default: all)")
    p.add_argument("--without", metavar="STEM", help="also write no_STEM.wav: the input minus that stem")
    p.add_argument("--model", default="separator", help="a separator model ('refrain models') or a model folder")
    p.add_argument(
        "--bits",
        default=None,
        choices=["16", "24", "float"],
        help="sample format (default: float for a float input, which may lie beyond full scale; else 24)",
    )
    add_batch_arguments(p)
    p.set_defaults(func=cmd_separate)


def cmd_separate(a: argparse.Namespace) -> int:
    from app.batch import is_batch
    from app.cli import Progress
    from models.separator.runtime import separate_file

    stems = [s.strip() for s in a.stems.split(",") if s.strip()] if a.stems else None
    if is_batch(a.input) or a.ray:
        options = {"model": a.model, "stems": stems, "without": a.without, "bits": a.bits}
        return run_batch("separate", a, options)
    bar = Progress(f"separating {Path(a.input[0]).name}")
    try:
        paths = separate_file(a.input[0], a.out, stems, a.without, a.model, a.bits, progress=bar)
    finally:
        bar.done()
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


def add_split_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "split",
        help="split two sources of the same kind: a duet into its singers, two violins, two speakers",
        description="Write OUT/source_1.wav ... OUT/source_N.wav at the input's sample rate and channel count; "
        "they add up to the input, and each file follows one voice from chunk to chunk. Works on a mix of two voices "
        "or instruments of one kind, or on a stem (separate the vocals first, then split them). Nothing is "
        "written unless every source completes.",
    )
    p.add_argument("input", nargs="+", help="audio file(s) or folder(s) (WAV, FLAC, OGG, Opus, MP3, AIFF)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the sources (created if missing)")
    p.add_argument("--sources", type=int, default=2, help="how many sources (the model's count; default 2)")
    p.add_argument("--model", default="splitter", help="a splitter model ('refrain models') or a model folder")
    p.add_argument(
        "--bits",
        default=None,
        choices=["16", "24", "float"],
        help="sample format (default: float for a float input, which may lie beyond full scale; else 24)",
    )
    add_batch_arguments(p)
    p.set_defaults(func=cmd_split)


def cmd_split(a: argparse.Namespace) -> int:
    from app.batch import is_batch
    from app.cli import Progress
    from models.splitter.runtime import split_file

    if is_batch(a.input) or a.ray:
        from models.splitter.runtime import require_model

        require_model(a.model)  # once, before the batch, not once per input
        return run_batch("split", a, {"model": a.model, "sources": a.sources, "bits": a.bits})
    bar = Progress(f"splitting {Path(a.input[0]).name}")
    try:
        paths = split_file(a.input[0], a.out, a.sources, a.model, a.bits, progress=bar)
    finally:
        bar.done()
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


def add_transcribe_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio (a stem, a melody, a part) to MIDI",
        description="Write a MIDI file of the notes in an audio file, with the tempo estimated from the audio "
        "(basic-pitch's model and Refrain's note decoding). Works best on one instrument or voice: a stem.",
    )
    p.add_argument("input", nargs="+", help="audio file(s) or folder(s) (WAV, FLAC, OGG, Opus, MP3, AIFF)")
    p.add_argument("--out", required=True, metavar="OUT", help="MIDI file to write (a folder for several inputs)")
    p.add_argument("--program", type=int, default=0, help="GM program of the MIDI track (0-127, default 0)")
    p.add_argument("--tempo", type=float, default=None, help="BPM for the file (default: estimated from the audio)")
    p.add_argument("--onset-threshold", type=float, default=0.6, help="0-1; higher: fewer, surer notes")
    p.add_argument("--frame-threshold", type=float, default=0.4, help="0-1; higher: shorter notes")
    p.add_argument("--min-note-ms", type=float, default=60.0, help="drop notes shorter than this")
    add_batch_arguments(p)
    p.set_defaults(func=cmd_transcribe)


def cmd_transcribe(a: argparse.Namespace) -> int:
    from app.cli import Progress
    from engine.errors import UserError
    from models.features.transcribe import transcribe_file

    if not 0 <= a.program <= 127:
        raise UserError(f"--program must be 0-127, not {a.program}")
    if a.tempo is not None and not 20 <= a.tempo <= 400:
        raise UserError(f"--tempo must be 20-400 BPM, not {a.tempo}")
    from app.batch import is_batch

    if is_batch(a.input) or a.ray:
        options = {
            "program": a.program,
            "tempo_bpm": a.tempo,
            "onset_threshold": a.onset_threshold,
            "frame_threshold": a.frame_threshold,
            "min_note_ms": a.min_note_ms,
        }
        return run_batch("transcribe", a, options)
    bar = Progress(f"transcribing {Path(a.input[0]).name}")
    try:
        t = transcribe_file(
            a.input[0],
            a.out,
            program=a.program,
            tempo_bpm=a.tempo,
            onset_threshold=a.onset_threshold,
            frame_threshold=a.frame_threshold,
            min_note_ms=a.min_note_ms,
            progress=bar,
        )
    finally:
        bar.done()
    notes = f"{len(t.notes)} note" + ("" if len(t.notes) == 1 else "s")
    print(f"{a.out}\t{notes}\t{t.tempo_bpm:.1f} BPM\t{t.seconds:.1f} s")
    return 0
