"""The ``refrain`` command line.

Inference commands import neither Qt nor torch, so they start fast. Errors a user can cause print
one line (``refrain: error: ...``) and exit with status 2; Ctrl-C cancels cleanly (status 130) and
leaves no partial files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, cast

from app.cli_automix import add_automix_command
from app.cli_engine import add_engine_commands
from app.cli_separate import add_separate_command, add_split_command, add_transcribe_command
from engine.errors import UserError


def refrain_version() -> str:
    """The installed package's version (a bundle carries its metadata too), else the checkout's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refrain")
    except PackageNotFoundError:
        return "0.1.0+checkout"


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line (with the command's name and the hint to ``--help``) and exit 2, like every
    other bad input; argparse's default prints the whole usage block first."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


class Progress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.monotonic()

    def __call__(self, frac: float) -> None:
        if not self.enabled:
            return
        width = 28
        n = round(frac * width)
        el = time.monotonic() - self.t0
        eta = el / frac - el if frac > 0 else 0.0
        sys.stderr.write(f"\r{self.label} [{'#' * n}{'.' * (width - n)}] {frac * 100:5.1f}%  ETA {eta:4.1f}s ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()


# -- generate ----------------------------------------------------------------------------------------
def add_generate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="generate a structured piece (MIDI, optionally WAV) from a form template",
        description="Generate a four-part piece (melody, accompaniment, bass, drums) that follows a form.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--structure", metavar="STR", help="structure string, e.g. i4A8B8A8b4B8o4 (lower case: no melody)")
    src.add_argument("--preset", metavar="NAME", help="form preset (see 'refrain presets')")
    src.add_argument("--template", metavar="FILE", help="template matrix: .npy, .csv or greyscale .png")
    src.add_argument("--from-track", metavar="FILE", help="take form, tempo, key and chords from a MIDI or audio file")
    p.add_argument("--bars", type=int, help="number of bars (resamples the template; default: the form's own)")
    p.add_argument("--out", required=True, metavar="OUT.mid", help="MIDI file to write")
    p.add_argument("--wav", metavar="OUT.wav", help="also render audio with a General MIDI SoundFont")
    p.add_argument("--model", default="sing", help="a generator model ('refrain models') or a model folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tempo", type=float, default=None, metavar="BPM", help="default: the track's, or 120")
    p.add_argument("--key", metavar="KEY", help="e.g. 'Bb major', 'D minor' (default: the track's, or drawn)")
    p.add_argument("--chromatic", action="store_true", help="allow notes outside the key's scale")
    p.add_argument("--chords", metavar="CHORDS", help="'Dm Bb F C' (one per bar), 'C G | Am F' (two per bar), "
                   "or per section 'A=C G Am F; B=F G C C' (default: generated from the form)")  # fmt: skip
    p.add_argument("--chord-fit", choices=["loop", "stretch"], default="loop",
                   help="lay the chords over each section by looping them or stretching them")  # fmt: skip
    p.add_argument("--variation", type=float, default=None, help="how much repeats differ: 0 exact .. 1 free (0.3)")
    p.add_argument("--temperature", type=float, default=None, help="variety of pitches and lengths (default 0.9)")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass (default 0.95)")
    p.add_argument("--density", metavar="PART=X,...", help="onset density per part, e.g. melody=0.8,drums=1.5 (1)")
    p.add_argument("--programs", metavar="PART=N,...", help="GM programs, e.g. melody=73,acc=0,bass=33")
    p.add_argument("--dynamics", type=float, default=1.0, help="accents and section levels: 0 flat .. 2 strong (1)")
    p.add_argument("--time-signature", default="4/4", metavar="N/D", help="only 4/4 is supported")
    p.add_argument(
        "--primer", metavar="FILE.mid", help="continue this MIDI file (its bars are kept; without a form: its own)"
    )
    p.add_argument("--regenerate", metavar="BARS", help="with --primer: regenerate only these bars, e.g. 5-8,13")
    p.add_argument("--soundfont", metavar="SF2", help="SoundFont for --wav (default: the system's GM SoundFont)")
    p.add_argument("--save-template", metavar="FILE", help="also save the template used (.npy/.csv/.png)")
    p.set_defaults(func=cmd_generate)


def cmd_generate(a: argparse.Namespace) -> int:
    from models.generator.piece import (
        DEFAULT_TEMPERATURE,
        DEFAULT_TOP_P,
        DEFAULT_VARIATION,
        TEMPO_RANGE,
        GenerateRequest,
        generate_piece,
        parse_bar_ranges,
        parse_part_values,
        parse_programs,
        parse_time_signature,
    )
    from models.generator.piece import write_outputs as write_piece
    from models.structure import resolve_template
    from models.structure.tracks import track_form

    parse_time_signature(a.time_signature)
    if a.regenerate and not a.primer:
        raise UserError("--regenerate needs --primer FILE.mid (the piece whose other bars are kept)")
    if a.wav:
        from engine.soundfont import find_soundfont

        find_soundfont(a.soundfont)
    from models.generator.chords import parse_key

    key = parse_key(a.key) if a.key else None
    programs = parse_programs(a.programs) if a.programs else None
    density = parse_part_values(a.density, "density", 0, 4) if a.density else {}
    track = None
    given = [x is not None for x in (a.structure, a.preset, a.template, a.from_track)]
    if not any(given) and not a.primer:
        raise UserError("give a form: --structure, --preset, --template or --from-track (or a --primer to continue)")
    if a.from_track is not None or not any(given):  # a primer alone keeps its own form
        track = track_form(a.from_track if a.from_track is not None else a.primer, a.bars)
        template, sections = track.template, track.sections
    else:
        template, sections = resolve_template(a.structure, a.preset, a.template, None, a.bars)
    primer = None
    if a.primer:
        from models.generator.midi import read_midi

        primer = read_midi(a.primer)
    if a.tempo is not None:
        tempo = a.tempo
    elif primer is not None:  # a continuation keeps the primer's tempo
        tempo = round(min(max(primer.tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1]), 1)
    elif track is not None:  # the new piece keeps the track's tempo
        tempo = round(min(max(track.tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1]), 1)
    else:
        tempo = 120.0
    regen = parse_bar_ranges(a.regenerate, template.shape[0]) if a.regenerate else []
    chord_list = None
    if track is not None and not a.chords and track.chords and track.bars == template.shape[0]:
        chord_list = track.chords
    req = GenerateRequest(
        template=template,
        sections=sections,
        model=a.model,
        seed=a.seed,
        temperature=DEFAULT_TEMPERATURE if a.temperature is None else a.temperature,
        top_p=DEFAULT_TOP_P if a.top_p is None else a.top_p,
        tempo=tempo,
        key=key or (track.key if track is not None else None),
        chromatic=a.chromatic,
        chords=a.chords,
        chord_list=chord_list,
        chord_fit=a.chord_fit,
        variation=DEFAULT_VARIATION if a.variation is None else a.variation,
        density=density,
        dynamics=a.dynamics,
        time_signature=a.time_signature,
        primer=primer,
        regenerate_bars=regen,
    )
    if programs is not None:
        req.programs = programs
    bar = Progress("generating")
    piece = generate_piece(req, progress=bar)
    bar.done()
    render = Progress("rendering ")
    write_piece(piece, a.out, a.wav, a.soundfont, progress=render, template=template, template_path=a.save_template)
    render.done()
    seconds = piece.bars * 4 * 60.0 / tempo
    extra = f" and {a.wav}" if a.wav else ""
    key_name = piece.key.name if piece.key is not None else "?"
    print(f"wrote {a.out}{extra}: {piece.bars} bars, {seconds:.1f} s at {tempo:g} BPM in {key_name} ({a.model})")
    return 0


# -- models: list, eval, train, export (through the model registry) -------------------------------------------
def add_model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from models.platform.registry import families

    names = list(families())
    p = sub.add_parser("models", help="list the shipped models of every family")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("eval", help="evaluate a model family on held-out data (prints JSON)")
    p.add_argument("what", choices=names)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--model", default=None, help="model names or folders, comma-separated")
    p.add_argument("--limit", type=int, default=0, help="only the first N songs (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval)
    # -h after the family goes to the family's own parser, which knows its options
    p = sub.add_parser(
        "train", add_help=False, help="train a model (needs the [train] extra); see 'refrain train generator -h'"
    )
    p.add_argument("what", nargs="?", choices=names)
    p.set_defaults(func=cmd_train, passthrough=True, family_help=p)
    p = sub.add_parser(
        "export", add_help=False, help="export a trained checkpoint to ONNX; see 'refrain export separator -h'"
    )
    p.add_argument("what", nargs="?", choices=names)
    p.set_defaults(func=cmd_export, passthrough=True, family_help=p)


def cmd_models(a: argparse.Namespace) -> int:
    from models.platform.registry import families, shipped_models

    fams = list(families().values())
    width = max((len(m.name) for f in fams for m in shipped_models(f.name)), default=0)
    for fam in fams:
        print(f"{fam.name} ({fam.title}):")
        for m in shipped_models(fam.name):
            default = " (default)" if m.name == fam.default else ""
            print(f"  {m.name:<{width}}  {m.description}{default}")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from models.platform.registry import entry_point, family

    fam = family(a.what)
    if not fam.evaluate:
        raise UserError(f"the {fam.name} family has no evaluation")
    res = entry_point(fam.evaluate)(a)
    print(json.dumps(res, indent=None if a.json else 2))
    return 0


def _family_main(a: argparse.Namespace, rest: list[str], kind: str) -> int:
    """Run a family's ``train`` or ``export`` script with the remaining arguments, its help and errors
    under the name the user typed (``refrain export separator``)."""
    from models.platform.registry import entry_point, family

    if a.what is None:
        a.family_help.print_help()
        return 0 if {"-h", "--help"} & set(rest) else 2
    prog, sys.argv[0] = sys.argv[0], f"refrain {kind} {a.what}"
    try:
        return int(entry_point(getattr(family(a.what), kind), kind)(rest))
    finally:
        sys.argv[0] = prog


def cmd_train(a: argparse.Namespace, rest: list[str]) -> int:
    return _family_main(a, rest, "train")


def cmd_export(a: argparse.Namespace, rest: list[str]) -> int:
    return _family_main(a, rest, "export")


# -- presets / demo ---------------------------------------------------------------------------------------
def cmd_presets(a: argparse.Namespace) -> int:
    from models.structure import DESCRIPTIONS
    from models.structure.presets import PRESET_STRINGS

    for name, s in PRESET_STRINGS.items():
        print(f"{name:18s} {s:24s} {DESCRIPTIONS[name]}")
    return 0


def template_ascii(t: object) -> str:
    """A compact picture of a template (one character per bar pair)."""
    import numpy as np

    m = np.asarray(t)
    shades = " .:-=+*#%@"
    rows = []
    for i in range(m.shape[0]):
        rows.append("".join(shades[min(9, int(v * 9.999))] for v in m[i]))
    return "\n".join(rows)


def cmd_demo(a: argparse.Namespace) -> int:
    from engine.soundfont import find_soundfont
    from models.generator.piece import GenerateRequest, generate_piece, write_outputs
    from models.structure import resolve_template
    from models.structure.presets import PRESET_STRINGS

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    find_soundfont()
    template, sections = resolve_template(preset=a.preset)
    print(f"Refrain demo: '{a.preset}' form ({PRESET_STRINGS[a.preset]}), {template.shape[0]} bars")
    print(template_ascii(template))
    bar = Progress("generating", enabled=True)
    piece = generate_piece(GenerateRequest(template, sections, seed=a.seed, tempo=a.tempo), progress=bar)
    bar.done()
    mid, wav = out / f"refrain-{a.preset}.mid", out / f"refrain-{a.preset}.wav"
    write_outputs(piece, mid, wav)
    print(f"wrote {mid} and {wav}")
    print("Open the MIDI in any DAW, or play the WAV. 'refrain generate --help' for more.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="refrain", description="Refrain: structured music generation and production.")
    ap.add_argument("--version", action="version", version=f"refrain {refrain_version()}")
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",  # the commands' builders take the base class
        ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser),
    )
    add_generate(sub)
    add_model_commands(sub)
    add_engine_commands(sub)
    add_separate_command(sub)
    add_split_command(sub)
    add_transcribe_command(sub)
    add_automix_command(sub)
    from app.main import add_app_command

    add_app_command(sub)
    p = sub.add_parser("presets", help="list the form presets")
    p.set_defaults(func=cmd_presets)
    p = sub.add_parser("demo", help="generate and render a demo piece (what ./run.sh starts without a display)")
    p.add_argument("--out", default="refrain-demo", help="output folder")
    p.add_argument("--preset", default="verse-chorus")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tempo", type=float, default=110.0)
    p.set_defaults(func=cmd_demo)
    return ap


def show_warnings() -> None:
    """Print Refrain's warnings as one line each (``refrain: warning: ...``), once per message."""
    import warnings

    from engine.errors import RefrainWarning

    original = warnings.showwarning

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if issubclass(category, RefrainWarning):
            print(f"refrain: warning: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("default", RefrainWarning)


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (``timeout``, ``kill``, a batch scheduler) cancels like Ctrl-C: the atomic writers remove
    their temporaries instead of leaving hidden ``.part`` files beside the outputs."""
    import signal
    import threading

    def stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    show_warnings()
    ap = build_parser()
    a, rest = ap.parse_known_args(argv)
    if getattr(a, "command", None) != "app":  # the app's event loop keeps SIGTERM's default: quit now
        _terminate_like_ctrl_c()
    try:
        if getattr(a, "passthrough", False):
            return int(a.func(a, rest))
        if rest:
            ap.error(f"unrecognized arguments: {' '.join(rest)}")
        return int(a.func(a))
    except UserError as exc:
        print(f"refrain: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrefrain: cancelled", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name not in ("torch", "onnx"):
            raise
        # the installable bundle carries the inference product only (packaging/refrain.spec)
        print(f"refrain: error: '{a.command}' needs {exc.name}, which this build leaves out: use a source "
              "checkout (./run.sh)", file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
