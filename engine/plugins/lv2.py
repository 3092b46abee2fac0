"""LV2 plugin host on liblilv, through ctypes (no compiled extension).

Discovery lists every installed plugin and its control ports as typed parameters. Instances get the
features most plugins ask for: URID map/unmap, options (block lengths, sample rate) and bounded block
length. Plugins that need more (worker threads, fixed block sizes, UI-only features) are refused with a
clear message instead of crashing later. lilv's instance calls are inline C, so the descriptor's function
pointers are called directly.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from ctypes import CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_double, c_float, c_uint32, c_void_p
from ctypes.util import find_library
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.plugin import MidiEvent, Param, ParamKind, Plugin

LV2 = "http://lv2plug.in/ns/lv2core#"
ATOM = "http://lv2plug.in/ns/ext/atom#"
URID = "http://lv2plug.in/ns/ext/urid#"
BUFSZ = "http://lv2plug.in/ns/ext/buf-size#"
OPTIONS = "http://lv2plug.in/ns/ext/options#"
PPROPS = "http://lv2plug.in/ns/ext/port-props#"
SUPPORTED_FEATURES = {
    URID + "map",
    URID + "unmap",
    OPTIONS + "options",
    BUFSZ + "boundedBlockLength",
    LV2 + "isLive",
    LV2 + "inPlaceBroken",
    LV2 + "hardRTCapable",
}
ATOM_CAPACITY = 65536


class LV2_Feature(Structure):
    _fields_ = [("URI", c_char_p), ("data", c_void_p)]


_MapFn = CFUNCTYPE(c_uint32, c_void_p, c_char_p)
_UnmapFn = CFUNCTYPE(c_char_p, c_void_p, c_uint32)


class LV2_URID_Map(Structure):
    _fields_ = [("handle", c_void_p), ("map", _MapFn)]


class LV2_URID_Unmap(Structure):
    _fields_ = [("handle", c_void_p), ("unmap", _UnmapFn)]


class LV2_Options_Option(Structure):
    _fields_ = [
        ("context", c_uint32),
        ("subject", c_uint32),
        ("key", c_uint32),
        ("size", c_uint32),
        ("type", c_uint32),
        ("value", c_void_p),
    ]


class LV2_Descriptor(Structure):
    _fields_ = [
        ("URI", c_char_p),
        ("instantiate", c_void_p),
        ("connect_port", CFUNCTYPE(None, c_void_p, c_uint32, c_void_p)),
        ("activate", CFUNCTYPE(None, c_void_p)),
        ("run", CFUNCTYPE(None, c_void_p, c_uint32)),
        ("deactivate", CFUNCTYPE(None, c_void_p)),
        ("cleanup", c_void_p),
        ("extension_data", c_void_p),
    ]


class LilvInstance(Structure):
    _fields_ = [("lv2_descriptor", POINTER(LV2_Descriptor)), ("lv2_handle", c_void_p), ("pimpl", c_void_p)]


_P, _INST = c_void_p, POINTER(LilvInstance)
# liblilv's functions we call, grouped by signature: (result type, argument types, names).
_SIGNATURES: list[tuple[Any, list[Any], tuple[str, ...]]] = [
    (_P, [], ("lilv_world_new",)),
    (None, [_P], ("lilv_world_load_all", "lilv_node_free", "lilv_nodes_free")),
    (_P, [_P], ("lilv_world_get_all_plugins", "lilv_plugins_begin", "lilv_plugin_get_uri", "lilv_plugin_get_name",
                "lilv_plugin_get_required_features", "lilv_nodes_begin")),
    (_P, [_P, c_char_p], ("lilv_new_uri",)),
    (c_char_p, [_P], ("lilv_node_as_uri", "lilv_node_as_string")),
    (c_float, [_P], ("lilv_node_as_float",)),
    (c_bool, [_P], ("lilv_node_is_float", "lilv_node_is_int", "lilv_plugin_has_latency")),
    (_P, [_P, _P], ("lilv_plugins_get_by_uri", "lilv_plugins_get", "lilv_plugins_next", "lilv_port_get_symbol",
                    "lilv_port_get_name", "lilv_nodes_get", "lilv_nodes_next")),
    (c_bool, [_P, _P], ("lilv_plugins_is_end", "lilv_nodes_is_end")),
    (c_uint32, [_P], ("lilv_plugin_get_num_ports", "lilv_plugin_get_latency_port_index")),
    (_P, [_P, c_uint32], ("lilv_plugin_get_port_by_index",)),
    (_INST, [_P, c_double, _P], ("lilv_plugin_instantiate",)),
    (None, [_INST], ("lilv_instance_free",)),
    (c_bool, [_P, _P, _P], ("lilv_port_is_a", "lilv_port_has_property")),
    (None, [_P, _P, POINTER(_P), POINTER(_P), POINTER(_P)], ("lilv_port_get_range",)),
]  # fmt: skip
_SIGS: dict[str, tuple[Any, list[Any]]] = {n: (res, args) for res, args, names in _SIGNATURES for n in names}


class _Lilv:
    """The loaded library, one world with every installed plugin, and the process-wide URID map."""

    def __init__(self) -> None:
        path = find_library("lilv-0") or "liblilv-0.so.0"
        try:
            self.lib = ctypes.CDLL(path)
        except OSError:
            raise UserError("LV2 hosting needs liblilv (Debian: apt install liblilv-0-0)") from None
        for name, (res, args) in _SIGS.items():
            fn = getattr(self.lib, name)
            fn.restype, fn.argtypes = res, args
        self.world = self.lib.lilv_world_new()
        self.lib.lilv_world_load_all(self.world)
        self.plugins = self.lib.lilv_world_get_all_plugins(self.world)
        self._nodes: dict[str, int] = {}
        self._urids: dict[bytes, int] = {}
        self._uris: dict[int, bytes] = {}
        self._urid_lock = threading.Lock()
        self._map_fn = _MapFn(self._map)
        self._unmap_fn = _UnmapFn(self._unmap)
        self.urid_map = LV2_URID_Map(None, self._map_fn)
        self.urid_unmap = LV2_URID_Unmap(None, self._unmap_fn)

    def node(self, uri: str) -> int:
        n = self._nodes.get(uri)
        if n is None:
            n = self.lib.lilv_new_uri(self.world, uri.encode())
            self._nodes[uri] = n
        return n

    def _map(self, handle: Any, uri: bytes) -> int:
        with self._urid_lock:
            u = self._urids.get(uri)
            if u is None:
                u = len(self._urids) + 1
                self._urids[uri] = u
                self._uris[u] = uri
            return u

    def _unmap(self, handle: Any, urid: int) -> bytes | None:
        return self._uris.get(urid)

    def urid(self, uri: str) -> int:
        return self._map(None, uri.encode())

    def string(self, node: int | None, free: bool = False) -> str:
        if not node:
            return ""
        s = (self.lib.lilv_node_as_string(node) or b"").decode("utf-8", "replace")
        if free:
            self.lib.lilv_node_free(node)
        return s

    def iterate_nodes(self, nodes: int) -> list[str]:
        out = []
        it = self.lib.lilv_nodes_begin(nodes)
        while not self.lib.lilv_nodes_is_end(nodes, it):
            out.append(self.string(self.lib.lilv_nodes_get(nodes, it)))
            it = self.lib.lilv_nodes_next(nodes, it)
        return out


_lilv: _Lilv | None = None
_lilv_lock = threading.Lock()


def lilv() -> _Lilv:
    global _lilv
    with _lilv_lock:
        if _lilv is None:
            _lilv = _Lilv()
        return _lilv


@dataclass(frozen=True)
class PortInfo:
    index: int
    symbol: str
    name: str
    kind: str  # audio, control, atom, cv, other
    is_input: bool
    minimum: float
    maximum: float
    default: float
    toggled: bool
    integer: bool
    log: bool


@dataclass(frozen=True)
class Lv2Info:
    uri: str
    name: str
    ports: tuple[PortInfo, ...]
    required_features: tuple[str, ...]
    latency_port: int | None

    @property
    def unsupported(self) -> list[str]:
        missing = [f for f in self.required_features if f not in SUPPORTED_FEATURES]
        if any(p.kind == "other" for p in self.ports):
            missing.append("a port type it does not know")
        return missing

    def audio(self, is_input: bool) -> list[PortInfo]:
        return [p for p in self.ports if p.kind == "audio" and p.is_input == is_input]


def _plugin_ptr(uri: str) -> int:
    lv = lilv()
    p = lv.lib.lilv_plugins_get_by_uri(lv.plugins, lv.node(uri))
    if not p:
        raise UserError(f"LV2 plugin not installed: {uri} (list them with 'refrain plugins --lv2')")
    return int(p)


def describe(uri: str) -> Lv2Info:
    """Ports, parameter ranges and required features of an installed plugin."""
    lv = lilv()
    lib = lv.lib
    p = _plugin_ptr(uri)
    ports = []
    for i in range(lib.lilv_plugin_get_num_ports(p)):
        port = lib.lilv_plugin_get_port_by_index(p, i)

        def is_a(cls: str, port: int = port) -> bool:
            return bool(lib.lilv_port_is_a(p, port, lv.node(cls)))

        def has(prop: str, port: int = port) -> bool:
            return bool(lib.lilv_port_has_property(p, port, lv.node(prop)))

        kind = (
            "audio"
            if is_a(LV2 + "AudioPort")
            else "control"
            if is_a(LV2 + "ControlPort")
            else "atom"
            if is_a(ATOM + "AtomPort")
            else "cv"
            if is_a(LV2 + "CVPort")
            else "other"
        )
        d, lo, hi = c_void_p(), c_void_p(), c_void_p()
        lib.lilv_port_get_range(p, port, ctypes.byref(d), ctypes.byref(lo), ctypes.byref(hi))
        vals = []
        for node in (d, lo, hi):
            vals.append(float(lib.lilv_node_as_float(node)) if node.value else None)
            if node.value:
                lib.lilv_node_free(node)
        dflt, mn, mx = vals
        mn = 0.0 if mn is None else mn
        mx = max(mn, 1.0 if mx is None else mx)
        dflt = mn if dflt is None else min(max(dflt, mn), mx)
        ports.append(
            PortInfo(
                index=i,
                symbol=lv.string(lib.lilv_port_get_symbol(p, port)),
                name=lv.string(lib.lilv_port_get_name(p, port), free=True),
                kind=kind,
                is_input=is_a(LV2 + "InputPort"),
                minimum=mn,
                maximum=mx,
                default=dflt,
                toggled=has(LV2 + "toggled"),
                integer=has(LV2 + "integer") or has(LV2 + "enumeration"),
                log=has(PPROPS + "logarithmic"),
            )
        )
    feats = lib.lilv_plugin_get_required_features(p)
    required = tuple(lv.iterate_nodes(feats)) if feats else ()
    if feats:
        lib.lilv_nodes_free(feats)
    lat = int(lib.lilv_plugin_get_latency_port_index(p)) if lib.lilv_plugin_has_latency(p) else None
    name = lv.string(lib.lilv_plugin_get_name(p), free=True)
    return Lv2Info(uri, name, tuple(ports), required, lat)


def installed_plugins() -> list[tuple[str, str]]:
    """(uri, name) of every installed LV2 plugin."""
    lv = lilv()
    lib = lv.lib
    out = []
    it = lib.lilv_plugins_begin(lv.plugins)
    while not lib.lilv_plugins_is_end(lv.plugins, it):
        p = lib.lilv_plugins_get(lv.plugins, it)
        out.append((lv.string(lib.lilv_plugin_get_uri(p)), lv.string(lib.lilv_plugin_get_name(p), free=True)))
        it = lib.lilv_plugins_next(lv.plugins, it)
    return sorted(out)


class _Instance:
    """One lilv instance with its port buffers connected once (they never move)."""

    def __init__(self, info: Lv2Info, sample_rate: int, max_block: int) -> None:
        lv = lilv()
        self.lib = lv.lib
        self._keep: list[Any] = []
        self.features = self._features(lv, sample_rate, max_block)
        ptr = self.lib.lilv_plugin_instantiate(_plugin_ptr(info.uri), float(sample_rate), self.features)
        if not ptr:
            raise UserError(f"LV2 plugin {info.name} failed to instantiate at {sample_rate} Hz")
        self.ptr = ptr
        desc = ptr.contents.lv2_descriptor.contents
        self.handle = ptr.contents.lv2_handle
        self._connect, self._run = desc.connect_port, desc.run
        self._activate, self._deactivate = desc.activate, desc.deactivate
        self.audio: dict[int, np.ndarray] = {}
        self.control: dict[int, np.ndarray] = {}
        self.atoms: dict[int, tuple[np.ndarray, bool]] = {}
        self._seq = lv.urid(ATOM + "Sequence")
        self._chunk = lv.urid(ATOM + "Chunk")
        for port in info.ports:
            if port.kind == "audio" or port.kind == "cv":
                buf = np.zeros(max_block, dtype=np.float32)
                self.audio[port.index] = buf
            elif port.kind == "control":
                buf = np.array([port.default], dtype=np.float32)
                self.control[port.index] = buf
            elif port.kind == "atom":
                buf = np.zeros(ATOM_CAPACITY // 4, dtype=np.uint32)
                self.atoms[port.index] = (buf, port.is_input)
            else:
                continue
            if self._connect:
                self._connect(self.handle, port.index, buf.ctypes.data)
        self._reset_atoms()
        self.active = False

    def _features(self, lv: _Lilv, sample_rate: int, max_block: int) -> Any:
        ints = (ctypes.c_int32 * 2)(1, max_block)
        rate = (c_float * 1)(float(sample_rate))
        t_int, t_float = lv.urid(ATOM + "Int"), lv.urid(ATOM + "Float")
        opts = (LV2_Options_Option * 4)(
            LV2_Options_Option(0, 0, lv.urid(BUFSZ + "minBlockLength"), 4, t_int, ctypes.addressof(ints)),
            LV2_Options_Option(0, 0, lv.urid(BUFSZ + "maxBlockLength"), 4, t_int, ctypes.addressof(ints) + 4),
            LV2_Options_Option(
                0, 0, lv.urid("http://lv2plug.in/ns/ext/parameters#sampleRate"), 4, t_float, ctypes.addressof(rate)
            ),
            LV2_Options_Option(0, 0, 0, 0, 0, None),
        )
        feats = [
            LV2_Feature(URID.encode() + b"map", ctypes.cast(ctypes.pointer(lv.urid_map), c_void_p)),
            LV2_Feature(URID.encode() + b"unmap", ctypes.cast(ctypes.pointer(lv.urid_unmap), c_void_p)),
            LV2_Feature(OPTIONS.encode() + b"options", ctypes.cast(opts, c_void_p)),
            LV2_Feature(BUFSZ.encode() + b"boundedBlockLength", None),
        ]
        arr = (ctypes.POINTER(LV2_Feature) * (len(feats) + 1))(*[ctypes.pointer(f) for f in feats])
        self._keep.extend([ints, rate, opts, feats, arr])
        return ctypes.cast(arr, c_void_p)

    def _reset_atoms(self) -> None:
        for buf, is_input in self.atoms.values():
            # LV2_Atom header {size, type} + sequence body {unit, pad}
            if is_input:
                buf[0], buf[1] = 8, self._seq
            else:
                buf[0], buf[1] = ATOM_CAPACITY - 8, self._chunk
            buf[2] = buf[3] = 0

    def activate(self) -> None:
        if not self.active and self._activate:
            self._activate(self.handle)
        self.active = True

    def deactivate(self) -> None:
        if self.active and self._deactivate:
            self._deactivate(self.handle)
        self.active = False

    def run(self, frames: int) -> None:
        if self.atoms:
            self._reset_atoms()
        self._run(self.handle, frames)

    def free(self) -> None:
        self.deactivate()
        if self.ptr:
            self.lib.lilv_instance_free(self.ptr)
            self.ptr = None


class Lv2Plugin(Plugin):
    """An installed LV2 effect on a stereo track. Mono plugins run as two instances (dual mono)."""

    kind = "lv2"

    def __init__(self, uri: str) -> None:
        self.info = describe(uri)
        bad = self.info.unsupported
        if bad:
            raise UserError(f"LV2 plugin {self.info.name} needs features Refrain does not provide: {', '.join(bad)}")
        self.controls = [p for p in self.info.ports if p.kind == "control" and p.is_input]
        params = []
        for p in self.controls:
            kind: ParamKind = "bool" if p.toggled else "int" if p.integer else "float"
            params.append(Param(p.symbol, p.minimum, p.maximum, p.default, kind=kind, log=p.log and p.minimum > 0))
        super().__init__(params)
        self.uri = uri
        self._ins = self.info.audio(True)
        self._outs = self.info.audio(False)
        if not self._outs:
            raise UserError(f"LV2 plugin {self.info.name} has no audio output")
        self._instances: list[_Instance] = []
        self._latency = 0

    @property
    def dual_mono(self) -> bool:
        return len(self._ins) == 1 and len(self._outs) == 1

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        self.close()
        count = channels if self.dual_mono else 1
        self._instances = [_Instance(self.info, sample_rate, max_block) for _ in range(count)]
        super().prepare(sample_rate, max_block, channels)
        for inst in self._instances:
            inst.activate()
        # One silent block lets plugins publish their latency; activation again starts from a clean state.
        self.process(np.zeros((channels, min(max_block, 64)), dtype=np.float32))
        if self.info.latency_port is not None:
            self._latency = max(0, round(float(self._instances[0].control[self.info.latency_port][0])))
        self.reset()

    @property
    def latency(self) -> int:
        return self._latency

    def _apply(self, values: dict[str, float]) -> None:
        for inst in self._instances:
            for p in self.controls:
                inst.control[p.index][0] = values[p.symbol]

    def reset(self) -> None:
        for inst in self._instances:
            inst.deactivate()
            inst.activate()

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        n = buf.shape[1]
        if self.dual_mono:
            for ch, inst in enumerate(self._instances):
                inst.audio[self._ins[0].index][:n] = buf[ch]
                inst.run(n)
                buf[ch] = inst.audio[self._outs[0].index][:n]
            return
        inst = self._instances[0]
        for k, port in enumerate(self._ins):
            dst = inst.audio[port.index][:n]
            if len(self._ins) == 1:
                np.mean(buf, axis=0, out=dst)
            elif k < buf.shape[0]:
                dst[...] = buf[k]
            else:  # side-chain and extra inputs hear silence
                dst[...] = 0.0
        inst.run(n)
        for ch in range(buf.shape[0]):
            buf[ch] = inst.audio[self._outs[min(ch, len(self._outs) - 1)].index][:n]

    def close(self) -> None:
        for inst in self._instances:
            inst.free()
        self._instances = []

    def state(self) -> dict[str, Any]:
        return {**super().state(), "options": {"uri": self.uri}}
