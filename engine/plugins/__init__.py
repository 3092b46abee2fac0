"""Plugin registry: built-ins by name, plus hosted LV2 (``lv2`` with option ``uri``) and VST3 (``vst3``
with option ``path``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engine.errors import UserError
from engine.plugin import Param, Plugin
from engine.plugins.builtin import Compressor, Delay, GainPan, Limiter, ParametricEQ, Reverb, StereoWidth
from engine.plugins.synth import FluidSynthGM

BUILTINS: dict[str, Callable[[], Plugin]] = {
    "gain": GainPan,
    "eq": ParametricEQ,
    "compressor": Compressor,
    "reverb": Reverb,
    "delay": Delay,
    "limiter": Limiter,
    "width": StereoWidth,
    "fluidsynth": FluidSynthGM,
}
HOSTED = ("lv2", "vst3")


def create_plugin(
    kind: str, params: Mapping[str, float] | None = None, options: Mapping[str, str] | None = None
) -> Plugin:
    """Instantiate a plugin by kind, with parameter targets set; unknown kinds and parameters are user errors."""
    opts = dict(options or {})
    plugin: Plugin
    if kind == "fluidsynth":
        plugin = FluidSynthGM(soundfont=opts.get("soundfont"))
    elif kind == "lv2":
        from engine.plugins.lv2 import Lv2Plugin

        if "uri" not in opts:
            raise UserError("lv2 plugin needs the option 'uri'")
        plugin = Lv2Plugin(opts["uri"])
    elif kind == "vst3":
        from engine.plugins.vst3 import Vst3Plugin

        if "path" not in opts:
            raise UserError("vst3 plugin needs the option 'path'")
        plugin = Vst3Plugin(opts["path"])
    elif kind in BUILTINS:
        plugin = BUILTINS[kind]()
    else:
        raise UserError(f"unknown plugin {kind!r} (built-ins: {', '.join(BUILTINS)}; or lv2, vst3)")
    for name, value in (params or {}).items():
        plugin.set_param(name, value)
    return plugin


_PARAMS: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Param, ...]] = {}


def plugin_params(kind: str, options: Mapping[str, str] | None = None) -> tuple[Param, ...]:
    """The typed parameters of a plugin kind (for editors), instantiated once and cached."""
    key = (kind, tuple(sorted((options or {}).items())))
    if key not in _PARAMS:
        p = create_plugin(kind, None, options)
        try:
            _PARAMS[key] = p.params
        finally:
            p.close()
    return _PARAMS[key]
