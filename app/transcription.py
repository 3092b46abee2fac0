"""Transcribe to MIDI: an audio lane (a song, or a stem) becomes a new MIDI lane under it, through the
shipped basic-pitch model on the worker process. The MIDI plays in absolute time (it does not follow the
project tempo), so its notes stay on the audio they came from; its file carries the tempo estimated from
the audio for DAWs and for ``refrain generate --from-track`` or ``--primer``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from app.stems import audio_clip_of
from app.tasks import stamp, transcribe_task
from app.workers import Job
from engine.errors import UserError
from engine.project import Clip, Project, TrackSpec

if TYPE_CHECKING:
    from app.session import Session


def midi_name(source: str) -> str:
    """The track name of a transcription: ``song · vocals · MIDI``."""
    return f"{source} · MIDI"


class Transcriber:
    def __init__(self, session: Session) -> None:
        self.s = session

    def transcribe(self, index: int, program: int = 0) -> Job:
        """Transcribe track ``index``'s audio clip to a MIDI file in the project's media folder and add it
        as a new track right after the source, with the clip's start, offset and length (one undo step)."""
        from app.session import unique_name

        s = self.s
        src, clip = audio_clip_of(s.project, index, "transcribe")
        folder = s.documents.media_dir()
        out = folder / f"{src.name.replace(os.sep, '_')}-{stamp()}.mid"
        source_id, source_name = src.id, src.name

        def done(result: tuple[int, float]) -> None:
            notes, bpm = result

            def fn(p: Project) -> None:
                at = next((i for i, t in enumerate(p.tracks) if t.id == source_id), None)
                if at is None:
                    raise UserError(f"{source_name} was removed while transcribing")
                name = unique_name(midi_name(p.tracks[at].name), [t.name for t in p.tracks])
                midi = Clip(os.fspath(out), clip.start, clip.offset, clip.length, follow_tempo=False)
                p.tracks.insert(at + 1, TrackSpec(name=name, clips=[midi]))

            try:
                s.edit(f"Transcribe {source_name}", fn)
            except UserError as exc:
                s.message.emit(str(exc))
                return
            s.message.emit(f"transcribed {source_name}: {notes} notes, about {bpm:.0f} BPM")

        return s.jobs.submit_process(
            f"Transcribing {source_name}",
            transcribe_task,
            (clip.path, os.fspath(out), program),
            done,
            s.failed(f"cannot transcribe {source_name}"),
        )
