"""Real-time playback on a clocked JACK dummy device (started by the tests) and on the null device:
what the device played equals the offline bounce, sample for sample."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine import events as ev
from engine.api import Engine
from engine.bounce import bounce_graph
from engine.build import build_graph
from engine.errors import UserError
from engine.jack import JackDummy
from engine.project import BusSpec, Clip, PluginSpec, Project, TrackSpec
from engine.stream import NULL_DEVICE
from tests.engine.conftest import RATE

FIL4 = "http://gareus.org/oss/lv2/fil4#stereo"


def _project(media: dict[str, Path]) -> Project:
    """MIDI through the synth, audio through an LV2 EQ and built-ins, a reverb bus, a master limiter."""
    return Project(
        tracks=[
            TrackSpec("keys", [Clip(str(media["midi"]), start=0.1)], chain=[PluginSpec("compressor")], output="fx"),
            TrackSpec(
                "audio",
                [Clip(str(media["stereo"]))],
                chain=[PluginSpec("lv2", {"gain": 3.0}, options={"uri": FIL4}), PluginSpec("eq", {"low_db": 2})],
                pan=0.2,
            ),
            TrackSpec("mono", [Clip(str(media["mono48"]), start=0.3)], gain_db=-6.0),
        ],
        buses=[BusSpec("fx", [PluginSpec("reverb", {"wet": 0.3})])],
    )


def _play_and_capture(engine: Engine, project: Project) -> tuple[np.ndarray, np.ndarray, list[ev.Event]]:
    graph = build_graph(project, RATE, engine.block)
    total = graph.end + graph.latency
    engine.load(graph)
    cap = engine.capture(total / RATE + 1)
    engine.play()
    engine.start()
    seen: list[ev.Event] = []
    deadline = time.monotonic() + total / RATE + 10
    while engine.position < total and time.monotonic() < deadline:
        time.sleep(0.02)
        seen += engine.poll()
    engine.stop()
    assert engine.position >= total, "playback did not reach the end in time"
    played = cap.result()[:, graph.latency : total]
    reference = bounce_graph(build_graph(project, RATE, engine.block), block=engine.block)
    return played, reference, seen


def test_jack_playback_equals_bounce(jack: JackDummy, media: dict[str, Path]) -> None:
    with Engine(RATE, 256, device="system") as eng:
        played, reference, seen = _play_and_capture(eng, _project(media))
    assert played.shape == reference.shape
    np.testing.assert_array_equal(played, reference)
    assert np.abs(reference).max() > 0.05
    meters = [e for e in seen if isinstance(e, ev.Meters)]
    assert meters and meters[0].peak.shape == (5, 2)  # 3 tracks, 1 bus, master
    assert any(isinstance(e, ev.Position) and e.playing and e.frame > 0 for e in seen)
    assert not [e for e in seen if isinstance(e, ev.PluginError | ev.CommandError)]


def test_null_device_keeps_real_time(media: dict[str, Path]) -> None:
    project = Project.from_files([media["stereo"]])
    t0 = time.monotonic()
    with Engine(RATE, 512, device=NULL_DEVICE) as eng:
        played, reference, _ = _play_and_capture(eng, project)
    took = time.monotonic() - t0
    np.testing.assert_array_equal(played, reference)
    assert took > 0.9 * reference.shape[1] / RATE, "the null device ran faster than real time"


def wait_for(eng: Engine, want: Callable[[ev.Event], bool], timeout: float = 10.0) -> list[ev.Event]:
    """Poll the engine until an event satisfies ``want`` (events, not a fixed sleep, decide)."""
    seen: list[ev.Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += eng.poll()
        if any(want(e) for e in seen):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"no such event within {timeout} s (saw {len(seen)} events)")


def test_commands_while_playing(jack: JackDummy, media: dict[str, Path]) -> None:
    from engine import commands as c

    with Engine(RATE, 256, device="system") as eng:
        eng.load(build_graph(Project.from_files([media["stereo"]]), RATE, 256))
        eng.start()
        eng.seek(RATE)  # 1 s in
        eng.play()
        seen = wait_for(eng, lambda e: isinstance(e, ev.Position) and e.playing and e.frame >= 0)
        heard = [e.frame for e in seen if isinstance(e, ev.Position) and e.frame >= 0]
        assert RATE <= heard[0] < 2 * RATE  # playback started where the seek put it, not at 0
        more = wait_for(eng, lambda e: isinstance(e, ev.Position) and e.frame > heard[0])
        assert all(b >= a for a, b in zip(heard, [e.frame for e in more if isinstance(e, ev.Position)], strict=False))
        eng.send(c.SetParam(0, 0, "gain", 1.0))  # track 0 has no slot 0: reported, nothing stops
        eng.pause()
        wait_for(eng, lambda e: isinstance(e, ev.CommandError))
        wait_for(eng, lambda e: isinstance(e, ev.Position) and not e.playing and e.frame == -1)
        assert not eng.playing and eng.position == -1


def test_unknown_device_is_a_clear_error(jack: JackDummy) -> None:
    with pytest.raises(UserError, match="no output device matches"):
        Engine(RATE, 256, device="no-such-card").start()


LOSS_SCRIPT = """
import time
from engine.jack import JackDummy
from engine.api import Engine
from engine import events as ev
from engine.project import Project
from engine.build import build_graph
import sys
server = JackDummy(44100, 256, name="refrain-loss-test").start()
eng = Engine(44100, 256, device="system")
eng.load(build_graph(Project.from_files([sys.argv[1]]), 44100, 256))
eng.start(); eng.play()
deadline = time.monotonic() + 10
while eng.position < 4410 and time.monotonic() < deadline: time.sleep(0.005)  # playing before the server dies
server.kill()
lost = None
for _ in range(100):
    time.sleep(0.05)
    lost = next((e for e in eng.poll() if isinstance(e, ev.DeviceLost)), None)
    if lost: break
print("LOST", lost is not None, flush=True)
before = eng.position
eng.restart(device="null")
deadline = time.monotonic() + 10
while eng.position <= before and time.monotonic() < deadline: time.sleep(0.005)
print("RESUMED", eng.position > before > 0, eng.playing, flush=True)
eng.close()
import os
os._exit(0)  # PortAudio's exit hook would wait on the dead JACK stream (see the engine's closing note)
"""


def test_losing_the_device_is_reported_and_restartable(media: dict[str, Path]) -> None:
    """In a subprocess: PortAudio's JACK state must not leak into the other tests."""
    if not JackDummy.available():
        pytest.skip("jackd not installed")
    r = subprocess.run(
        [sys.executable, "-c", LOSS_SCRIPT, str(media["stereo"])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert "LOST True" in r.stdout, r.stdout + r.stderr
    assert "RESUMED True True" in r.stdout, r.stdout + r.stderr


def test_the_device_callback_plays_on_while_python_holds_the_gil(jack: JackDummy) -> None:
    """The callback is native (engine.callback): periods keep coming while a Python thread holds the GIL
    for 0.3 s, which a Python callback would wait out (JACK: 'client was not finished')."""
    from engine.callback import CALLBACKS

    with Engine(RATE, 256, device="system") as eng:
        eng.start()
        deadline = time.monotonic() + 10
        while eng.ring.state[CALLBACKS] < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        old = sys.getswitchinterval()
        sys.setswitchinterval(10.0)  # no other thread gets the GIL from this one for 10 s
        try:
            before = int(eng.ring.state[CALLBACKS])
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 0.3:
                pass
            during = int(eng.ring.state[CALLBACKS]) - before
        finally:
            sys.setswitchinterval(old)
    periods = 0.3 * RATE / 256
    assert during > periods / 2, f"{during} callbacks in 0.3 s ({periods:.0f} periods)"
