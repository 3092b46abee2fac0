"""``refrain play``, ``refrain render``, ``refrain plugins`` and ``refrain bench engine``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from engine.errors import UserError


def add_engine_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("play", help="play an audio/MIDI file or a project in real time (Ctrl-C stops)")
    p.add_argument("input", nargs="?", metavar="FILE_OR_PROJECT")
    p.add_argument("--device", help="output device: name, part of a name, index, or 'null' (silent, real time)")
    p.add_argument("--block", type=int, default=256, help="render block in frames (default 256)")
    p.add_argument("--rate", type=int, help="sample rate (default: the project's, or 44100)")
    p.add_argument("--start", type=float, default=0.0, help="start position in seconds")
    p.add_argument("--capture", metavar="OUT.wav", help="also record what was played (float WAV)")
    p.add_argument("--soundfont", help="SoundFont for MIDI tracks (default: found on the system)")
    p.add_argument("--devices", action="store_true", help="list output devices and exit")
    _add_plugin_option(p)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("render", help="bounce a project, or the plain sum of files, to WAV/FLAC")
    p.add_argument("project", nargs="?", metavar="PROJECT")
    p.add_argument("--tracks", nargs="+", metavar="FILE", help="files to sum at unity gain and centre pan")
    p.add_argument("--out", required=True, metavar="OUT.wav")
    p.add_argument("--bits", default="24", choices=["16", "24", "float"], help="sample format (default 24)")
    p.add_argument("--lufs", type=float, help="normalise to this integrated loudness (e.g. -14)")
    p.add_argument("--rate", type=int, help="sample rate (default: the project's, or the first file's)")
    p.add_argument("--block", type=int, default=256, help="render block in frames (default 256, as playback)")
    p.add_argument("--soundfont", help="SoundFont for MIDI tracks")
    _add_plugin_option(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("plugins", help="list plugins, or one plugin's parameters")
    p.add_argument("--lv2", action="store_true", help="list installed LV2 plugins")
    p.add_argument("--params", metavar="KIND_OR_LV2_URI", help="show a plugin's parameters")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("bench", help="benchmarks: a summary, or one JSON object with --json")
    p.add_argument(
        "what",
        choices=["engine"],
        metavar="engine",
        help="play stereo tracks (EQ + compressor each) on a clocked device",
    )
    p.add_argument("--tracks", type=int, default=16, help="tracks to play (default 16)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds measured (default 10)")
    p.add_argument("--block", type=int, default=256, help="block in frames (default 256)")
    p.add_argument("--rate", type=int, default=44100, help="sample rate in Hz (default 44100)")
    p.add_argument("--device", help="output device (default: the system's, or a JACK dummy it starts)")
    p.add_argument(
        "--load",
        default="onnx",
        choices=["onnx", "numpy", "none"],
        help="background job meanwhile: onnx (the generator's inference, what the app runs while playing; the "
        "default), numpy (matrix products) or none",
    )
    p.add_argument("--workers", type=int, default=1, help="threads rendering the tracks (default 1)")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also play 1 track with no background job on the same device: the xruns the device gives an idle "
        "engine (a JACK dummy on a virtual machine misses its own timer)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.set_defaults(func=cmd_bench)


def _add_plugin_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="SPEC",
        help="append a plugin to every track's chain: a built-in name or an LV2 URI, optionally "
        "followed by @name=value,... (e.g. 'eq@low_db=3' or 'http://gareus.org/oss/lv2/fil4#stereo@gain=2')",
    )


def _plugin_specs(specs: list[str]) -> list[Any]:
    from engine.project import PluginSpec

    out = []
    for spec in specs:
        head, _, tail = spec.partition("@")
        params: dict[str, float] = {}
        for item in filter(None, tail.split(",")):
            name, eq, value = item.partition("=")
            try:
                params[name.strip()] = float(value)
            except ValueError:
                raise UserError(f"--plugin {spec!r}: expected name=number, got {item!r}") from None
            if not eq:
                raise UserError(f"--plugin {spec!r}: expected name=number, got {item!r}")
        if "://" in head:
            out.append(PluginSpec("lv2", params, options={"uri": head}))
        elif head.lower().endswith(".vst3"):
            out.append(PluginSpec("vst3", params, options={"path": head}))
        else:
            out.append(PluginSpec(head, params))
    return out


def _fmt_time(seconds: float) -> str:
    m, s = divmod(max(seconds, 0.0), 60)
    return f"{int(m)}:{s:04.1f}"


RATES = (8000, 384000)  # sample rates a device or a file may have


def _check_rate(rate: int | None) -> None:
    if rate is not None and not RATES[0] <= rate <= RATES[1]:
        raise UserError(f"--rate {rate} is out of range {RATES[0]}..{RATES[1]} Hz")


def _open(path: str, rate: int | None, soundfont: str | None, plugins: list[str]) -> Any:
    from engine.project import Project, is_project_file, load_project

    _check_rate(rate)
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder: play a file or a project")
    if not os.path.exists(path):
        raise UserError(f"no such file: {path}")
    if is_project_file(path):
        project = load_project(path)
    else:
        project = Project.from_files([path], sample_rate=rate or _native_rate(path))
    if rate:
        project.sample_rate = rate
    return _soundfont(_with_plugins(project, plugins), soundfont)


def _with_plugins(project: Any, specs: list[str]) -> Any:
    extra = _plugin_specs(specs)
    for t in project.tracks:
        t.chain.extend(extra)
    return project


def _soundfont(project: Any, soundfont: str | None) -> Any:
    from engine.project import PluginSpec

    if soundfont:
        for t in project.tracks:
            if any(c.is_midi for c in t.clips) and t.instrument is None:
                t.instrument = PluginSpec("fluidsynth", options={"soundfont": soundfont})
    return project


def _native_rate(path: str) -> int:
    from engine.midi import MIDI_SUFFIXES

    if not os.path.isfile(path):
        raise UserError(f"no such file: {path}")
    if path.lower().endswith(MIDI_SUFFIXES):
        return 44100
    from engine.audio_io import audio_info

    return audio_info(path).sample_rate


def cmd_play(a: argparse.Namespace) -> int:
    from engine import events as ev
    from engine.api import Engine
    from engine.audio_io import write_audio
    from engine.build import build_graph
    from engine.stream import NULL_DEVICE, output_devices

    if a.devices:
        for d in output_devices():
            print(f"{d.index}: {d.name} ({d.host_api}, {d.channels} ch, {d.default_rate:g} Hz)")
        print(f"{NULL_DEVICE}: silent device that keeps real time")
        return 0
    if a.input is None:
        raise UserError("play needs a FILE_OR_PROJECT (or --devices to list the outputs)")
    if a.capture:  # before playing: a bad capture path must not cost the take
        from engine.audio_io import check_output

        check_output(a.capture, "float", folder_exists=True)
        if os.path.exists(a.capture) and os.path.samefile(a.capture, a.input):
            raise UserError("--capture names the file being played: choose another name")
    project = _open(a.input, a.rate, a.soundfont, a.plugin)
    device = a.device
    if device is None and not output_devices():
        print("refrain: no audio output device; playing on the silent real-time null device", file=sys.stderr)
        device = NULL_DEVICE
    sr = project.sample_rate
    graph = build_graph(project, sr, a.block)
    total = graph.end + graph.latency
    start = round(a.start * sr)
    if start >= graph.end:
        graph.close()
        raise UserError(f"--start {a.start:g} s is past the end ({graph.end / sr:.1f} s)")
    tty = sys.stderr.isatty()
    with Engine(sr, a.block, device) as eng:
        eng.load(graph)
        cap = eng.capture(total / sr + 1.0) if a.capture else None
        eng.seek(start)
        eng.play()
        eng.start()
        errors = 0
        last_line = 0.0
        while True:
            time.sleep(0.05)
            for e in eng.poll():
                if isinstance(e, ev.PluginError):
                    errors += 1
                    print(f"\nrefrain: plugin error on {e.strip}: {e.message}", file=sys.stderr)
                elif isinstance(e, ev.DeviceLost):
                    raise UserError(e.message)
            pos = eng.position
            now = time.monotonic()
            if tty and now - last_line > 0.1:
                last_line = now
                shown = max(pos - graph.latency, 0) / sr
                sys.stderr.write(f"\r▶ {_fmt_time(shown)} / {_fmt_time(graph.end / sr)}  xruns {eng.xruns}  ")
                sys.stderr.flush()
            if pos >= total - a.block:
                break
        xruns = eng.xruns
    if tty:
        sys.stderr.write("\n")
    print(f"played {graph.end / sr:.1f} s on {device or 'the default device'}: {xruns} xruns, {errors} plugin errors")
    if cap is not None:
        audio = cap.result()[:, graph.latency : total]
        write_audio(a.capture, audio, sr, "float")
        print(f"wrote {a.capture}")
    return 0


def cmd_render(a: argparse.Namespace) -> int:
    from app.cli import Progress
    from engine.bounce import bounce_to_file
    from engine.build import build_graph
    from engine.project import Project

    if (a.project is None) == (a.tracks is None):
        raise UserError("give a PROJECT or --tracks FILE..., not both")
    if a.tracks:
        _check_rate(a.rate)
        rate = a.rate or _native_rate(a.tracks[0])
        project = _with_plugins(Project.from_files(a.tracks, sample_rate=rate), a.plugin)
    else:
        project = _open(a.project, a.rate, a.soundfont, a.plugin)
    graph = build_graph(project, project.sample_rate, a.block)
    try:
        if graph.end == 0:
            raise UserError("nothing to render: the project has no clips")
        bar = Progress("rendering")
        t0 = time.perf_counter()
        bounce_to_file(graph, a.out, bits=a.bits, lufs=a.lufs, block=a.block, progress=bar)
        bar.done()
        took = time.perf_counter() - t0
    finally:
        graph.close()
    secs = graph.end / project.sample_rate
    speed = secs / max(took, 1e-9)
    fmt = "32-bit float" if a.bits == "float" else f"{a.bits}-bit"
    print(f"wrote {a.out}: {secs:.1f} s at {project.sample_rate} Hz, {fmt} ({speed:.0f}x real time)")
    return 0


def cmd_plugins(a: argparse.Namespace) -> int:
    from engine.plugins import BUILTINS, create_plugin

    if a.params:
        kind, options = ("lv2", {"uri": a.params}) if "://" in a.params else (a.params, {})
        plugin = create_plugin(kind, options=options)
        try:
            print(f"{a.params}: latency {plugin.latency} frames")
            for p in plugin.params:
                extra = f" {p.unit}" if p.unit else ""
                print(f"  {p.name:<24} {p.kind:<6} {p.minimum:g} .. {p.maximum:g}{extra} (default {p.default:g})")
        finally:
            plugin.close()
        return 0
    if a.lv2:
        from engine.plugins.lv2 import installed_plugins

        for uri, name in installed_plugins():
            print(f"{uri}  {name}")
        return 0
    print("built-in: " + ", ".join(BUILTINS))
    print("hosted: lv2 (refrain plugins --lv2), vst3 (a .vst3 bundle path)")
    return 0


def bench_load(kind: str) -> Any:
    """The background job of ``refrain bench engine``: onnxruntime steps of the shipped generator (what the
    app's worker runs while the engine plays), numpy matrix products, or none."""
    from engine.bench import BackgroundLoad, numpy_load

    if kind == "numpy":
        return numpy_load()
    if kind == "onnx":
        from models.generator import FORMAT
        from models.platform.onnx import OnnxModel
        from models.platform.registry import resolve_model

        model = OnnxModel(resolve_model("sing", "generator"), threads=1, formats=(FORMAT,))
        feeds = model.zero_feeds()
        return BackgroundLoad("onnx", lambda: model.predict(feeds))
    return None


def cmd_bench(a: argparse.Namespace) -> int:
    from engine.bench import run_engine_bench

    if a.tracks < 1:
        raise UserError(f"--tracks must be at least 1, not {a.tracks}")
    if a.seconds <= 0:
        raise UserError(f"--seconds must be positive, not {a.seconds:g}")
    _check_rate(a.rate)
    result = run_engine_bench(a.tracks, a.seconds, a.block, a.rate, a.device, bench_load(a.load), a.workers)
    if a.baseline:
        idle = run_engine_bench(1, a.seconds, a.block, a.rate, a.device, None, 1)
        result["baseline"] = {k: idle[k] for k in ("tracks", "background", "xruns", "render_load")}
        # fewer xruns than the idle engine is the device's noise, not a gain: clamp at 0
        result["xruns_over_baseline"] = max(0, result["xruns"] - idle["xruns"])
    print(json.dumps(result) if a.json else bench_summary(result))
    return 0


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _jack_log(counts: dict[str, int] | None) -> str:
    return "" if not counts else f", JACK's log: timer {counts['timer']}, client {counts['client']}"


def bench_summary(r: dict[str, Any]) -> str:
    """The engine bench's result as a few lines a person reads (``--json`` gives every field)."""
    lines = [
        f"{r['tracks']} tracks x {' + '.join(r['plugins_per_track'])}, {r['block']} frames at {r['sample_rate']} Hz, "
        f"{r['seconds']:g} s on {r['device']} ({r['workers']} render thread(s)), background job: {r['background']}",
        f"xruns {r['xruns']} (ring underruns {r['underruns']}, device {r['device_xruns']})"
        + _jack_log(r["jack_xruns"]),
        f"callback load p99 {_num(r['callback_load'])} (max {_num(r['callback_load_max'])}), render load "
        f"{r['render_load']:.3f} of the period; start {r['start_ms']:.1f} ms; CPU stolen {r['cpu_steal_s']:.2f} s",
    ]
    if "baseline" in r:
        idle = r["baseline"]["xruns"]
        lines.append(f"idle engine on the same device: {idle} xruns ({r['xruns_over_baseline']} more here)")
    if r["plugin_errors"]:
        lines.append(f"plugin errors: {r['plugin_errors']}")
    lines.append(
        "goals met (0 xruns, callback load < 0.3, render load < 0.5, start < 300 ms): "
        + ("yes" if r["goals_met"] else "no")
    )
    return "\n".join(lines)
