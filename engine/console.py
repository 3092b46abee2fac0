"""The mixing console the auto-mixer writes: per track an EQ, a compressor and the fader (gain, pan); on the
master a stereo width stage, a bus compressor, a limiter and the master fader. Built only from the engine's own plugins
(:mod:`engine.plugins.builtin`), so what the auto-mixer proposes is what plays, stays editable in the mixer
and saves with the project.

Signal flow (the graph's, :mod:`engine.graph`): track source -> the track's chain (the user's plugins, then
the console's ``eq`` and ``compressor``) -> fader (``gain_db``, balance ``pan``) -> sum -> master chain (the
user's plugins, then the console's ``width``, ``compressor`` and ``limiter``) -> master fader (``gain_db``).

Console plugins carry the option ``console=automix`` so applying settings again replaces them instead of
stacking a second EQ; any other plugin in a chain is left alone.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.errors import UserError
from engine.plugins.builtin import Compressor, Limiter, ParametricEQ, StereoWidth
from engine.project import PluginSpec, Project

CONSOLE_OPTION = ("console", "automix")
TRACK_CHAIN = ("eq", "compressor")
MASTER_CHAIN = ("width", "compressor", "limiter")
_PARAMS = {
    "eq": ParametricEQ.PARAMS,
    "compressor": Compressor.PARAMS,
    "limiter": Limiter.PARAMS,
    "width": StereoWidth.PARAMS,
}
# Parameters blended on a log scale by `blend` (frequencies, ratio, Q, times): halfway between 100 Hz and
# 10 kHz is 1 kHz, as a mixer's knob reads it.
_LOG = {p.name for params in _PARAMS.values() for p in params if p.log}


def defaults(kind: str) -> dict[str, float]:
    """The plugin kind's default parameters: for ``eq`` flat, for ``compressor`` 3:1 at -18 dB."""
    return {p.name: p.default for p in _PARAMS[kind]}


def neutral(kind: str) -> dict[str, float]:
    """Settings under which the stage leaves the sound as it is (the limiter has none: it is bypassed)."""
    v = defaults(kind)
    if kind == "compressor":
        v.update(ratio=1.0, makeup_db=0.0)
    if kind == "eq":
        v.update(highpass_hz=10.0)
    return v


@dataclass
class StripSettings:
    """One track's console strip: fader gain (dB), balance pan (-1 left .. 1 right), EQ and compressor
    parameters by the plugins' own names and units."""

    gain_db: float = 0.0
    pan: float = 0.0
    eq: dict[str, float] = field(default_factory=lambda: neutral("eq"))
    compressor: dict[str, float] = field(default_factory=lambda: neutral("compressor"))


@dataclass
class MasterSettings:
    """The master bus: compressor, limiter (``None``: bypassed), the master fader gain (dB) and the stereo
    width (the side signal's gain, 0 mono .. 1 unchanged .. 2; before the compressor)."""

    compressor: dict[str, float] = field(default_factory=lambda: neutral("compressor"))
    limiter: dict[str, float] | None = None
    gain_db: float = 0.0
    width: float = 1.0


@dataclass
class ConsoleSettings:
    """Settings for a set of tracks (in the order given to :func:`apply_console`) and the master."""

    strips: list[StripSettings]
    master: MasterSettings = field(default_factory=MasterSettings)

    @staticmethod
    def neutral(tracks: int) -> ConsoleSettings:
        """Unity faders, centred pans, flat EQs, 1:1 compressors, no limiter: the plain sum."""
        return ConsoleSettings([StripSettings() for _ in range(tracks)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> ConsoleSettings:
        """Read what :meth:`to_dict` wrote; a missing key takes its neutral value, a wrong one is a user error."""
        try:
            strips = [
                StripSettings(
                    gain_db=float(s.get("gain_db", 0.0)),
                    pan=float(s.get("pan", 0.0)),
                    eq=_checked("eq", s.get("eq")),
                    compressor=_checked("compressor", s.get("compressor")),
                )
                for s in d["strips"]
            ]
            m = d.get("master", {})
            lim = m.get("limiter")
            master = MasterSettings(
                compressor=_checked("compressor", m.get("compressor")),
                limiter=None if lim is None else _checked("limiter", lim),
                gain_db=float(m.get("gain_db", 0.0)),
                width=_checked("width", {"width": m.get("width", 1.0)})["width"],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"console settings: {exc}") from exc
        return ConsoleSettings(strips, master)


def _checked(kind: str, values: Mapping[str, Any] | None) -> dict[str, float]:
    out = neutral(kind)
    for name, v in (values or {}).items():
        if name not in out:
            raise UserError(f"console settings: {kind} has no parameter {name!r}")
        out[name] = float(v)
    return clamp(kind, out)


def clamp(kind: str, values: Mapping[str, float]) -> dict[str, float]:
    """Each parameter limited to the plugin's range (what the plugin itself would do on set)."""
    return {p.name: p.clamp(values[p.name]) for p in _PARAMS[kind] if p.name in values}


def _mix(kind: str, a: Mapping[str, float], b: Mapping[str, float], t: float) -> dict[str, float]:
    if t in (0.0, 1.0):  # the ends exactly: exp(log(x)) is not always x, and neutral must stay neutral
        return clamp(kind, dict(a if t == 0.0 else b))
    out = {}
    for name in a:
        x, y = float(a[name]), float(b[name])
        if name in _LOG:
            out[name] = math.exp(math.log(x) + t * (math.log(y) - math.log(x)))
        else:
            out[name] = x + t * (y - x)
    return clamp(kind, out)


def between(before: ConsoleSettings, after: ConsoleSettings, t: float) -> ConsoleSettings:
    """The settings ``t`` of the way from ``before`` (0) to ``after`` (1), stage by stage: dB values, pans and
    thresholds linearly, frequencies, Qs, ratios and times on a log scale (as a knob reads them). A limiter
    on one side only is taken as one at 0 dBFS on the other, engaged for any ``t`` above 0 towards the side
    that has it; at ``t = 0`` the result is exactly ``before``."""
    t = min(1.0, max(0.0, float(t)))
    strips = [
        StripSettings(
            a.gain_db + t * (b.gain_db - a.gain_db),
            a.pan + t * (b.pan - a.pan),
            _mix("eq", a.eq, b.eq, t),
            _mix("compressor", a.compressor, b.compressor, t),
        )
        for a, b in zip(before.strips, after.strips, strict=True)
    ]
    ma, mb = before.master, after.master
    idle = defaults("limiter") | {"threshold_db": 0.0}
    if ma.limiter is None and mb.limiter is None:
        limiter = None
    elif t == 0.0:
        limiter = None if ma.limiter is None else dict(ma.limiter)
    elif t == 1.0:
        limiter = None if mb.limiter is None else dict(mb.limiter)
    else:
        limiter = _mix("limiter", ma.limiter or idle, mb.limiter or idle, t)
    # the engine's limiter is transparent at 0 dB (for a signal under full scale), so engaging it there and
    # moving its threshold is as continuous as any other knob: the level follows the amount without a step
    gain = ma.gain_db + t * (mb.gain_db - ma.gain_db)
    width = ma.width + t * (mb.width - ma.width)
    comp = _mix("compressor", ma.compressor, mb.compressor, t)
    return ConsoleSettings(strips, MasterSettings(comp, limiter, gain, width))


def blend(proposal: ConsoleSettings, amount: float) -> ConsoleSettings:
    """The settings ``amount`` of the way from neutral (0: the plain sum) to ``proposal`` (1)."""
    return between(ConsoleSettings.neutral(len(proposal.strips)), proposal, amount)


def is_console_plugin(p: PluginSpec) -> bool:
    """Whether a chain's plugin is one the console put there (replaced when settings are applied again)."""
    return p.options.get(CONSOLE_OPTION[0]) == CONSOLE_OPTION[1]


def is_neutral(kind: str, params: Mapping[str, float]) -> bool:
    """Whether the stage leaves the sound as it is: a flat EQ (its lowest high-pass, no boosts or cuts; the
    10 Hz high-pass still turns phase, so a neutral EQ is bypassed rather than run), or a 1:1 compressor
    without makeup, or unchanged stereo width."""
    if kind == "width":
        return params["width"] == 1.0
    if kind == "eq":
        flat = all(params[k] == 0.0 for k in ("low_db", "mid1_db", "mid2_db", "high_db"))
        return flat and params["highpass_hz"] <= _lowest("eq", "highpass_hz")
    if kind == "compressor":
        return params["ratio"] == 1.0 and params["makeup_db"] == 0.0
    return False


def _lowest(kind: str, name: str) -> float:
    return next(p.minimum for p in _PARAMS[kind] if p.name == name)


def _console_plugin(kind: str, params: Mapping[str, float], bypass_neutral: bool) -> PluginSpec:
    """A console stage as a plugin; a neutral one is bypassed (with ``bypass_neutral``), so neutral settings
    are exactly the plain sum."""
    bypass = bypass_neutral and is_neutral(kind, params)
    return PluginSpec(kind, dict(params), bypass=bypass, options=dict([CONSOLE_OPTION]))


def apply_console(
    project: Project, settings: ConsoleSettings, tracks: Sequence[int] | None = None, bypass_neutral: bool = True
) -> Project:
    """A copy of ``project`` with the settings written: ``settings.strips[i]`` goes to track ``tracks[i]``
    (default: every track in order) as its fader and the console plugins at the end of its chain; the master
    gets its console plugins and fader. Console plugins already there are replaced where they stand; the
    user's are kept, in their order.
    ``bypass_neutral=False`` keeps neutral stages running and puts a bypassed limiter on a master without
    one, so every setting has the same plugins: moving between two settings is then parameter changes the
    running graph glides through and, for the limiter, a crossfaded bypass (A/B and the amount control while
    playing), never a rebuild.

    Raises :class:`UserError` when the counts differ or a track index is out of range."""
    idx = list(range(len(project.tracks))) if tracks is None else list(tracks)
    if len(idx) != len(settings.strips):
        raise UserError(f"console settings: {len(settings.strips)} strips for {len(idx)} tracks")
    out = copy.deepcopy(project)
    for i, strip in zip(idx, settings.strips, strict=True):
        if not 0 <= i < len(out.tracks):
            raise UserError(f"console settings: no track {i + 1}")
        t = out.tracks[i]
        t.gain_db = min(24.0, max(-60.0, strip.gain_db))
        t.pan = min(1.0, max(-1.0, strip.pan))
        stages = {
            "eq": _console_plugin("eq", strip.eq, bypass_neutral),
            "compressor": _console_plugin("compressor", strip.compressor, bypass_neutral),
        }
        t.chain = _place(t.chain, stages)
    m = settings.master
    limiter: PluginSpec | None = None
    if m.limiter is not None:
        limiter = _console_plugin("limiter", m.limiter, bypass_neutral)
    elif not bypass_neutral:
        limiter = PluginSpec("limiter", defaults("limiter") | {"threshold_db": 0.0}, True, dict([CONSOLE_OPTION]))
    master_stages = {
        "width": _console_plugin("width", {"width": m.width}, bypass_neutral),
        "compressor": _console_plugin("compressor", m.compressor, bypass_neutral),
    }
    if limiter is not None:
        master_stages["limiter"] = limiter
    out.master.chain = _place(out.master.chain, master_stages)
    out.master.gain_db = min(24.0, max(-60.0, m.gain_db))
    return out


def _place(chain: list[PluginSpec], stages: dict[str, PluginSpec]) -> list[PluginSpec]:
    """``chain`` with its console plugins replaced by ``stages`` (by kind) where they stand, so a second
    auto-mix keeps the order the user arranged around them; stages not there yet go at the end, in order;
    console plugins of a kind not in ``stages`` are dropped."""
    todo = dict(stages)
    out = []
    for p in chain:
        if not is_console_plugin(p):
            out.append(p)
        elif p.plugin in todo:
            out.append(todo.pop(p.plugin))
    return out + list(todo.values())


def _read(kind: str, spec: PluginSpec | None) -> dict[str, float]:
    """What a console stage plays: neutral when absent or bypassed; parameters a project leaves out take the
    plugin's defaults (what the engine plays), not neutral values."""
    if spec is None or spec.bypass:
        return neutral(kind)
    return clamp(kind, defaults(kind) | {k: float(v) for k, v in spec.params.items() if k in defaults(kind)})


def read_console(project: Project, tracks: Sequence[int] | None = None) -> ConsoleSettings:
    """The console settings a project holds for ``tracks`` (default: all): each track's fader and console
    plugins as they sound (a bypassed stage reads neutral, a bypassed limiter as none); the inverse of
    :func:`apply_console`."""
    idx = list(range(len(project.tracks))) if tracks is None else list(tracks)
    strips = []
    for i in idx:
        t = project.tracks[i]
        found = {p.plugin: p for p in t.chain if is_console_plugin(p)}
        strips.append(
            StripSettings(t.gain_db, t.pan, _read("eq", found.get("eq")), _read("compressor", found.get("compressor")))
        )
    found = {p.plugin: p for p in project.master.chain if is_console_plugin(p)}
    lim = found.get("limiter")
    limiter = None if lim is None or lim.bypass else _read("limiter", lim)
    width = _read("width", found.get("width"))["width"]
    master = MasterSettings(_read("compressor", found.get("compressor")), limiter, project.master.gain_db, width)
    return ConsoleSettings(strips, master)
