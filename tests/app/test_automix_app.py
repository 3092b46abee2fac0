"""Auto-mix in the app: the proposal lands in the mixer strips and plugin chains as one undo step; the amount
control and the A/B switch move between the mix before and the proposal by parameter changes the running
graph takes live (no rebuild), and the mixer row shows where it stands."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.main_window import MainWindow
from engine.build import live_commands
from engine.console import is_console_plugin, read_console
from engine.errors import UserError
from tests.app.conftest import wait_jobs
from tests.app.test_app_window import load
from tests.conftest import synthetic_stems
from tests.engine.conftest import write_wav


def test_automix_amount_and_ab(qtbot, window: MainWindow, tmp_path: Path, tiny_automix: Path) -> None:  # type: ignore[no-untyped-def]
    s = window.session
    song = synthetic_stems(4, 3.0)
    for k in range(3):
        load(qtbot, window, write_wav(tmp_path / f"Track 0{k + 1}.wav", song[k]))
    bar = window.automix_bar
    assert not bar.amount.isEnabled() and not bar.ab.isEnabled()
    with pytest.raises(UserError):
        s.automix.toggle_ab()
    steps = s.undo.count()
    s.automix.run(model=str(tiny_automix))
    wait_jobs(qtbot, s)
    assert s.undo.count() == steps + 1 and bar.amount.isEnabled() and bar.ab.text() == "B: auto-mix"
    assert all(sum(map(is_console_plugin, t.chain)) == 2 for t in s.project.tracks)
    proposal = read_console(s.project).to_dict()
    assert s.automix.proposal is not None and proposal == s.automix.proposal.to_dict()

    before = s.project
    bar.amount.setValue(50)  # the slider drives the amount
    assert s.automix.amount == 0.5 and bar.amount_label.text() == "50 %"
    assert live_commands(before, s.project) is not None  # parameters only: the running graph glides to them
    halfway = [t.gain_db for t in s.project.tracks]
    before = s.project
    bar.ab.click()  # A: the mix before
    assert s.automix.showing_before and bar.ab.text() == "A: before"
    assert live_commands(before, s.project) is not None
    assert [t.gain_db for t in s.project.tracks] == [0.0, 0.0, 0.0]
    assert read_console(s.project).master.limiter is None
    bar.ab.click()  # B again, at the amount set
    assert [t.gain_db for t in s.project.tracks] == halfway
    assert s.undo.count() == steps + 2  # the amount and A/B moves merged into one step
    s.undo.undo()
    assert read_console(s.project).to_dict() == proposal
    assert not s.automix.ready and not bar.amount.isEnabled()  # the undone blend no longer drives the mix
    with pytest.raises(UserError):
        s.automix.set_amount(0.3)
    s.undo.undo()
    assert not any(is_console_plugin(p) for t in s.project.tracks for p in t.chain)
    assert "&Mix" in [a.text() for a in window.menuBar().actions()]
