"""The auto-mix controller: propose console settings for the selected tracks (or all of them) on the worker
process, write them into the mixer strips and plugin chains as one undo step, then let the user blend the
proposal in (``amount``, 0 = the mix before, 1 = the proposal) and A/B it against the mix before while
playing. Both sides of the A/B carry the same console plugins, so switching is parameter changes the running
graph glides through (and a crossfaded bypass for the limiter), never a rebuild or a click."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.tasks import automix_task
from app.workers import Job
from engine.console import ConsoleSettings, apply_console, between, read_console
from engine.errors import UserError
from engine.project import Project

if TYPE_CHECKING:
    from app.session import Session

AMOUNT_MERGE = "automix-amount"  # consecutive amount moves and A/B switches merge into one undo step


class AutoMix(QObject):
    """``changed``: a proposal arrived, or the amount or the A/B side moved (views refresh their controls)."""

    changed = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.s = session
        self.track_ids: list[str] = []
        self.before: ConsoleSettings | None = None
        self.proposal: ConsoleSettings | None = None
        self.amount = 1.0
        self.showing_before = False
        self.report: dict[str, Any] = {}
        session.document_reset.connect(self.forget)
        session.changed.connect(self._sync)

    @property
    def ready(self) -> bool:
        return self.proposal is not None and self.before is not None

    def _sync(self) -> None:
        """After any edit (an undo included): when the tracks no longer hold what the amount and A/B last
        wrote, that state no longer describes the mix, so the controls let go of it (auto-mix again)."""
        if not self.ready:
            return
        idx = [self.s.track_index(i) for i in self.track_ids]
        if min(idx, default=-1) < 0 or read_console(self.s.project, idx).to_dict() != self.current().to_dict():
            self.forget()

    def forget(self) -> None:
        self.track_ids, self.before, self.proposal, self.report = [], None, None, {}
        self.amount, self.showing_before = 1.0, False
        self.changed.emit()

    def run(self, tracks: list[int] | None = None, reference: str | None = None, model: str = "automix") -> Job:
        """Propose settings for ``tracks`` (default: all), matched to the ``reference`` file when given."""
        s = self.s
        idx = list(range(len(s.project.tracks))) if not tracks else sorted(set(tracks))
        if not idx:
            raise UserError("add tracks to auto-mix")
        if reference is not None and not os.path.isfile(reference):
            raise UserError(f"no such file: {reference}")
        ids = [s.project.tracks[i].id for i in idx]
        snapshot = s.playable(s.project)
        what = "Matching the reference" if reference else "Auto-mixing"

        def done(result: dict[str, Any]) -> None:
            now = [s.track_index(i) for i in ids]
            if min(now) < 0:
                s.message.emit("auto-mix: a track was removed while it ran; nothing changed")
                return
            self.track_ids = ids
            self.before = read_console(s.project, now)
            self.proposal = ConsoleSettings.from_dict(result["settings"])
            self.report = result["report"]
            self.amount, self.showing_before = 1.0, False
            self._write("Auto-mix" if reference is None else "Match reference", merge=None)
            roles = ", ".join(result["report"].get("roles", []))
            s.message.emit(f"auto-mixed {len(ids)} tracks ({roles}); A/B with Ctrl+Alt+A")

        return s.jobs.submit_process(
            f"{what} ({len(idx)} tracks)",
            automix_task,
            (snapshot, idx, reference, model),
            done,
            s.failed("auto-mix failed"),
        )

    def set_amount(self, amount: float) -> None:
        """Blend between the mix before (0) and the proposal (1); moves merge into one undo step."""
        if not self.ready:
            raise UserError("auto-mix first (Mix > Auto-mix)")
        self.amount = min(1.0, max(0.0, float(amount)))
        self.showing_before = False
        self._write("Auto-mix amount", merge=AMOUNT_MERGE)

    def toggle_ab(self) -> None:
        """Switch between the mix before and the (blended) proposal."""
        if not self.ready:
            raise UserError("auto-mix first (Mix > Auto-mix)")
        self.showing_before = not self.showing_before
        self._write("Auto-mix A/B", merge=AMOUNT_MERGE)

    def current(self) -> ConsoleSettings:
        assert self.before is not None and self.proposal is not None
        return between(self.before, self.proposal, 0.0 if self.showing_before else self.amount)

    def _write(self, text: str, merge: object) -> None:
        s = self.s
        idx = [s.track_index(i) for i in self.track_ids]
        if min(idx, default=-1) < 0:
            raise UserError("a track of the auto-mix was removed: auto-mix again")
        settings = self.current()

        def fn(p: Project) -> None:
            mixed = apply_console(p, settings, idx, bypass_neutral=False)
            p.tracks[:], p.master = mixed.tracks, mixed.master

        s.edit(text, fn, merge)
        self.changed.emit()
