"""``refrain automix``: console settings for a set of stems (or a project's tracks), balanced by the
shipped controller or matched to a reference track."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_automix_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "automix",
        help="mix stems with proposed console settings (gain, pan, EQ, master limiter)",
        description="Propose console settings for the stems and write the mix at the stems' sample rate; the "
        "settings are the engine's own plugins, so a saved project plays and edits them like any mix. "
        "Given one project file, propose settings for its tracks and save a new project. Roles are read from "
        "the audio, never from file names. Nothing is written unless every output completes.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="stem audio files, or one .refrain project")
    p.add_argument("--out", required=True, help="the mix (WAV/FLAC), or the new project for a project input")
    p.add_argument("--reference", metavar="REF", help="a track whose loudness, tone, width and dynamics to match")
    p.add_argument("--save-project", metavar="P.refrain", help="also save a project holding the settings")
    p.add_argument("--settings-json", metavar="S.json", help="also write the settings and the report as JSON")
    p.add_argument("--amount", type=float, default=1.0, help="0 = the plain sum ... 1 = the full proposal")
    p.add_argument("--model", default="automix", help="a controller model ('refrain models') or a model folder")
    p.set_defaults(func=cmd_automix)


def cmd_automix(a: argparse.Namespace) -> int:
    from app.cli import Progress
    from engine.errors import UserError
    from engine.project import is_project_file
    from models.automix.runtime import automix_files, automix_project

    if not 0.0 <= a.amount <= 1.0:
        raise UserError("--amount must be between 0 and 1")
    project_input = len(a.inputs) == 1 and is_project_file(a.inputs[0])
    bar = Progress(f"auto-mixing {len(a.inputs)} {'project' if project_input else 'stems'}")

    def say(frac: float, _stage: str) -> None:
        bar(frac)

    try:
        if project_input:
            if a.save_project or a.settings_json:
                raise UserError("--save-project and --settings-json are for stems; a project input saves to --out")
            report = automix_project(a.inputs[0], a.out, a.reference, a.model, a.amount, say)
        else:
            report = automix_files(
                a.inputs, a.out, a.reference, a.save_project, a.settings_json, a.model, a.amount, say
            )
    finally:
        bar.done()
    print(json.dumps({"out": str(Path(a.out)), **report}))
    return 0
