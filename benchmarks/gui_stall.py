"""Event-loop responsiveness of the desktop app while playback and long jobs run.

A 5 ms precise QTimer probes the GUI thread; a stall is how much later than due a tick arrives. The
script opens the real main window (offscreen unless a display is set), loads a 60 s WAV and a MIDI
file, starts playback, then runs at once: a 64-bar generation, an export of the mix, a form analysis
of the WAV and another decode. It prints one JSON object: the worst stall and percentiles while busy,
the same for an idle phase before, job durations, and engine xruns.

    .venv/bin/python benchmarks/gui_stall.py [--device null] [--bars 64] [--idle 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
GOAL_MS = 50.0
PROBE_MS = 5


def _media(folder: Path) -> tuple[Path, Path]:
    import mido
    import soundfile as sf

    rate = 44100
    t = np.arange(60 * rate) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-(t % 0.5) * 4)
    wav = folder / "sixty.wav"
    sf.write(str(wav), np.stack([x, 0.8 * x], 1).astype(np.float32), rate, subtype="FLOAT")
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    for i in range(240):
        tr.append(mido.Message("note_on", note=48 + (i * 7) % 24, velocity=80, time=0 if i == 0 else 40))
        tr.append(mido.Message("note_off", note=48 + (i * 7) % 24, velocity=0, time=200))
    path = folder / "riff.mid"
    mid.save(str(path))
    return wav, path


def _stats(ticks: list[float]) -> dict[str, float]:
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    stall = np.maximum(gaps - PROBE_MS, 0.0)
    if stall.size == 0:
        return {"ticks": 0}
    return {
        "ticks": int(stall.size),
        "max_stall_ms": round(float(stall.max()), 2),
        "p99_stall_ms": round(float(np.percentile(stall, 99)), 2),
        "p50_gap_ms": round(float(np.percentile(gaps, 50)), 2),
        "stalls_over_goal": int((stall > GOAL_MS).sum()),
    }


def _watchdog(ticks: dict[str, list[float]], phase: dict[str, Any]) -> None:
    """Print where the GUI thread is when a probe tick is more than 40 ms late (for finding stalls)."""
    import threading
    import traceback

    main_id = threading.main_thread().ident

    def run() -> None:
        reported = 0.0
        while phase["name"] != "done":
            time.sleep(0.003)
            t = ticks.get(phase["name"])
            if not t:
                continue
            last = t[-1]
            if time.perf_counter() - last > 0.04 + PROBE_MS / 1000 and last != reported:
                reported = last
                frame = sys._current_frames().get(main_id or 0)
                print("".join(traceback.format_stack(frame)[-6:]), file=sys.stderr)

    threading.Thread(target=run, daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="null", help="audio output ('null': silent, clocked)")
    ap.add_argument("--bars", type=int, default=64)
    ap.add_argument("--block", type=int, default=None, help="engine block (default: the app's default)")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline")
    ap.add_argument("--trace", action="store_true", help="print the GUI thread's stack during stalls over 40 ms")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="refrain-stall-"))
    os.environ["REFRAIN_CONFIG_DIR"] = str(tmp / "config")
    os.environ["REFRAIN_STATE_DIR"] = str(tmp / "state")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.media import overview
    from app.prefs import Preferences
    from app.session import Session
    from app.workers import Job
    from models.structure import resample_template

    qapp = QApplication(sys.argv[:1])
    wav, mid = _media(tmp)
    prefs = Preferences(device=a.device, autosave_seconds=3600)
    if a.block:
        prefs.block = a.block
    session = Session(prefs)
    win = MainWindow(session)
    win.show()
    phase: dict[str, Any] = {"name": "idle"}
    stats: dict[str, int] = {}
    ticks: dict[str, list[float]] = {"idle": [], "busy": []}
    jobs: list[Job] = []
    t_start = time.perf_counter()

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks[phase["name"]].append(time.perf_counter()) if phase["name"] in ticks else None)
    probe.start()

    def busy() -> None:
        phase["name"] = "busy"
        jobs.append(session.mixer.load_track(wav))
        jobs.append(session.mixer.load_track(mid))

    def more_work() -> None:
        """What a busy user does, one action every 150 ms: play, reshape the form, generate, export, analyse."""
        phase["stage"] = "jobs"
        actions = [
            win.toggle_play,
            lambda: session.generation.set_template(
                resample_template(session.generation.template(), a.bars), None, "bench"
            ),
            lambda: jobs.append(win.generate_panel.request(False)),
            lambda: jobs.append(session.documents.export_audio(str(tmp / "mix.wav"))),
            lambda: jobs.append(session.generation.template_from_track(str(wav), 32)),
            lambda: jobs.append(session.jobs.submit("Decoding at 48 kHz", lambda job: overview(str(wav), 48000))),
        ]
        for k, act in enumerate(actions):
            QTimer.singleShot(150 * k, act)
        phase["until"] = time.perf_counter() + 150 * len(actions) / 1000 + 0.2

    def check_done() -> None:
        if phase["name"] != "busy" or session.jobs.active() or not session.graph_current:
            return
        if phase.get("stage") != "jobs":
            more_work()
            return
        if time.perf_counter() < phase["until"]:
            return
        phase["name"] = "done"
        stats["xruns"] = session.bridge.engine.xruns if session.bridge and session.bridge.engine else -1
        win.stop()
        session.undo.setClean()
        win.close()
        qapp.quit()

    if a.trace:
        _watchdog(ticks, phase)
    QTimer.singleShot(int(a.idle * 1000), busy)
    done_timer = QTimer()
    done_timer.timeout.connect(check_done)
    done_timer.start(100)
    QTimer.singleShot(300_000, qapp.quit)  # a hard limit
    qapp.exec()
    wall = time.perf_counter() - t_start
    out = {
        "benchmark": "gui_event_loop_stall",
        "probe_ms": PROBE_MS,
        "goal_ms": GOAL_MS,
        "busy": _stats(ticks["busy"]),
        "idle": _stats(ticks["idle"]),
        "jobs": [{"title": j.title, "state": j.state, "seconds": round(j.seconds, 2)} for j in jobs],
        "xruns": stats.get("xruns", -1),
        "device": a.device,
        "block": prefs.block,
        "bars": a.bars,
        "wall_s": round(wall, 1),
        "cpus": os.cpu_count(),
    }
    busy_stats = out["busy"]
    out["ok"] = bool(busy_stats.get("ticks", 0) > 0 and busy_stats["max_stall_ms"] < GOAL_MS)  # type: ignore[index]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
