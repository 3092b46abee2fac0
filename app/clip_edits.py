"""Clip edits the arrangement makes with the mouse, as functions on a project (each call is one undo step
through ``Session.edit``): move a clip in time, trim an audio clip at either edge, split an audio clip in
two. Times are seconds on the timeline; ``file_seconds`` is the clip's source length (the media overview's).

MIDI clips move but are not trimmed or split: the engine plays a MIDI file whole from its clip's start."""

from __future__ import annotations

from dataclasses import replace

from engine.errors import UserError
from engine.project import Clip, Project

MIN_CLIP_SECONDS = 0.01  # nothing shorter is left by a trim or a split


def clip_end(clip: Clip, file_seconds: float) -> float:
    """Where the clip ends on the timeline."""
    length = clip.length if clip.length is not None else max(0.0, file_seconds - clip.offset)
    return clip.start + length


def move_clip(project: Project, lane: int, index: int, start: float) -> None:
    """Place clip ``index`` of track ``lane`` at ``start`` seconds (never before 0)."""
    clips = project.tracks[lane].clips
    clips[index] = replace(clips[index], start=max(0.0, float(start)))


def _audio(clip: Clip, what: str) -> None:
    if clip.is_midi:
        raise UserError(f"MIDI clips cannot be {what} yet (they play whole): move them instead")


def trim_clip(project: Project, lane: int, index: int, edge: str, at: float, file_seconds: float) -> None:
    """Move the ``edge`` ("left" or "right") of audio clip ``index`` to ``at`` seconds, within its file: the
    left edge moves the start and the file offset together (the audio stays where it was on the timeline)."""
    clips = project.tracks[lane].clips
    c = clips[index]
    _audio(c, "trimmed")
    end = clip_end(c, file_seconds)
    if edge == "left":
        lo = c.start - c.offset  # where the file's first sample sits on the timeline
        new_start = min(max(float(at), lo, 0.0), end - MIN_CLIP_SECONDS)
        clips[index] = replace(c, start=new_start, offset=c.offset + (new_start - c.start), length=end - new_start)
    elif edge == "right":
        hi = c.start - c.offset + file_seconds  # the file's last sample on the timeline
        new_end = max(min(float(at), hi), c.start + MIN_CLIP_SECONDS)
        clips[index] = replace(c, length=new_end - c.start)
    else:
        raise ValueError(f"edge must be 'left' or 'right', not {edge!r}")


def split_clip(project: Project, lane: int, index: int, at: float, file_seconds: float) -> None:
    """Cut audio clip ``index`` at ``at`` seconds into two clips that play the same audio end to end.
    Raises UserError when ``at`` is not inside the clip."""
    clips = project.tracks[lane].clips
    c = clips[index]
    _audio(c, "split")
    end = clip_end(c, file_seconds)
    if not c.start + MIN_CLIP_SECONDS <= at <= end - MIN_CLIP_SECONDS:
        raise UserError("put the playhead inside the clip to split it")
    # a whole number of samples into the clip: the two parts then meet sample for sample in the engine,
    # wherever the clip itself starts
    at = c.start + round((at - c.start) * project.sample_rate) / project.sample_rate
    head = replace(c, length=at - c.start)
    tail = replace(c, start=at, offset=c.offset + (at - c.start), length=end - at)
    clips[index : index + 1] = [head, tail]


def clip_at(project: Project, lane: int, at: float, seconds_of: dict[int, float]) -> int | None:
    """The index of the last clip of track ``lane`` that covers ``at`` (``seconds_of``: each clip index's
    length on the timeline), or None."""
    hit = None
    for k, c in enumerate(project.tracks[lane].clips):
        if c.start <= at <= c.start + seconds_of.get(k, 0.0):
            hit = k
    return hit
