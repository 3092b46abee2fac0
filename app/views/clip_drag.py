"""Dragging a clip in the arrangement: the body moves it, an audio clip's edge trims it. While the mouse
moves, the lane draws a preview; the release commits one undo step (:mod:`app.clip_edits`). Positions snap
to the beat unless Shift is held."""

from __future__ import annotations

from dataclasses import dataclass

from app.clip_edits import move_clip, trim_clip
from engine.project import Clip, Project, TrackSpec

EDGE_PX = 6  # how close to a clip's edge a press trims instead of moving


@dataclass
class ClipDrag:
    lane: int
    index: int
    mode: str  # "move", "left" or "right"
    grab: float  # seconds under the mouse at the press
    clip: Clip  # the clip as it was
    file_seconds: float
    at: float = 0.0  # seconds under the mouse now (snapped)

    @staticmethod
    def mode_at(x: float, x0: float, x1: float, is_midi: bool) -> str:
        if not is_midi and x1 - x0 > 3 * EDGE_PX:
            if abs(x - x0) <= EDGE_PX:
                return "left"
            if abs(x - x1) <= EDGE_PX:
                return "right"
        return "move"

    def apply(self, project: Project, lane: int, index: int) -> None:
        """The edit this drag makes, on ``project``'s clip ``index`` of track ``lane``."""
        if self.mode == "move":
            move_clip(project, lane, index, self.clip.start + (self.at - self.grab))
        else:
            trim_clip(project, lane, index, self.mode, self.at, self.file_seconds)

    def preview(self) -> Clip:
        """The clip as it would be if the mouse were released now."""
        scratch = Project(tracks=[TrackSpec("preview", [self.clip])])
        self.apply(scratch, 0, 0)
        return scratch.tracks[0].clips[0]

    @property
    def text(self) -> str:
        return "Move Clip" if self.mode == "move" else "Trim Clip"


def snap(seconds: float, tempo: float, free: bool) -> float:
    """``seconds`` on the beat grid of ``tempo`` (quarter notes), or as is when ``free``."""
    if free:
        return seconds
    beat = 60.0 / max(tempo, 1.0)
    return round(seconds / beat) * beat
