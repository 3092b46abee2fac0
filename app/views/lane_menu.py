"""A lane's context menu: the commands that act on that track (solo, mute, separate, split, transcribe,
audition, export, remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

from engine.build import has_midi
from engine.errors import UserError

if TYPE_CHECKING:
    from app.main_window import MainWindow


def build_lane_menu(w: MainWindow, lane: int) -> QMenu:
    """The commands that act on one track, for a right-click on its lane."""
    s = w.session
    t = s.project.tracks[lane]
    m = QMenu(w)
    flip = s.mixer.set_track
    m.addAction("Solo" if not t.solo else "Unsolo", lambda: w._guard(lambda: flip(lane, solo=not t.solo)))
    m.addAction("Mute" if not t.mute else "Unmute", lambda: w._guard(lambda: flip(lane, mute=not t.mute)))
    if not has_midi(t):
        again = any(x.group == t.id for x in s.project.tracks)
        label = "Separate Again (Replaces Its Stems)" if again else "Separate into Stems"
        m.addAction(label, lambda: w._guard(lambda: s.stems.separate(lane)))
        m.addAction("Split into Voices", lambda: w._guard(lambda: s.stems.split_voices(lane)))
        m.addAction("Transcribe to MIDI", lambda: w._guard(lambda: s.transcriber.transcribe(lane)))
    try:
        stems = s.stems.group(lane)[1]
    except UserError:
        stems = []  # neither a separated source nor a stem
    if t.group:
        m.addAction("Play Everything but This Stem", lambda: w._guard(lambda: s.stems.audition_without(lane)))
    if stems:
        m.addAction("Export Stems…", lambda: w._guard(lambda: w.export_stems(lane)))
    m.addSeparator()
    m.addAction("Remove Track", lambda: w._guard(lambda: s.mixer.remove_track(lane)))
    return m
