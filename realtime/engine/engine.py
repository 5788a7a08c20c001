"""The streaming engine: the native mixer the audio callback runs, the same for live audio
and files, and the styles around it.

Each block goes through the native core in two halves (``realtime/native``):
``sr_engine_input`` (clean, gain, meter, dry delay line, every playing style's input ring,
wake the worker) and ``sr_engine_output`` (each style's wet mixed with its aligned dry, the
crossfade between styles, output gain, safety limiter, meters, recording tap). Live, both
halves run in the C callback and a worker thread runs the styles (``buffered`` mode, a
margin of blocks ahead). Offline, ``process`` can also run the styles between the halves
(``direct`` mode: no margin), on the very same mixer and limiter.

What plays is a rack (``realtime.engine.chain``): styles in series, each with its own mix,
bypass and knobs; a single style is a rack of one slot. Changing a slot's mix, bypass or
knobs sets a target the worker follows; adding, removing, moving or swapping a slot
prepares a new chain off the audio thread and crossfades to it like a style switch, so a
change of latency never jumps in time.

Control methods (``set_mix``, ``set_style``...) may be called from any thread but the audio
thread: they set targets and swap pointers that the callback reads at its next block.
Slot numbers are 1-based, as the command line and the window show them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from realtime.errors import ConfigError
from realtime.format.catalog import resolve
from realtime.format.rack import RackSpec, SlotSpec
from realtime.format.style import Style
from realtime.native import ffi, float_ptr, lib
from realtime.engine.chain import ChainSlot
from realtime.engine.resample import DEFAULT_RESAMPLER, check_resampler
from realtime.engine.stats import EngineStats
from realtime.engine.strip import Latency, Strip, prepare_strip
from realtime.engine.worker import StyleWorker

MODES = ("direct", "buffered")
#: a late wet block fades to the aligned dry (and back) over this long
CONCEAL_SECONDS = 0.0025
#: the most blocks the style worker may run ahead of the callback (buffered mode's margin)
MAX_MARGIN_BLOCKS = 8


@dataclass(frozen=True)
class EngineConfig:
    """How the engine meets the device. ``block_frames`` is the device block it plans for
    (blocks of other sizes up to ``max_block_frames`` still work, and are counted late if
    the wet path cannot keep up with them). ``direct`` runs the styles inside ``process``
    (offline only); ``buffered`` runs them on the worker thread, ``margin_blocks`` ahead."""

    sample_rate: int
    block_frames: int
    in_channels: int = 1
    out_channels: int = 1
    mode: str = "direct"
    margin_blocks: int = 2
    max_block_frames: int = 8192
    max_latency_seconds: float = 2.0
    crossfade_seconds: float = 0.03
    provider: str = "cpu"
    resampler: str = DEFAULT_RESAMPLER  # between the device rate and a style's (realtime.engine.resample)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode '{self.mode}' is not one of: {', '.join(MODES)}")
        if not 1 <= self.block_frames <= self.max_block_frames:
            raise ConfigError(f"block size {self.block_frames} is outside 1..{self.max_block_frames} frames")
        if self.sample_rate < 1000:
            raise ConfigError(f"sample rate {self.sample_rate} Hz is too low")
        if not 1 <= self.in_channels <= 64 or not 1 <= self.out_channels <= 64:
            raise ConfigError("channel counts must be between 1 and 64")
        if self.mode == "buffered" and self.margin_blocks < 1:
            raise ConfigError("buffered mode needs a margin of at least 1 block")
        check_resampler(self.resampler)

    @property
    def max_latency_frames(self) -> int:
        return int(self.max_latency_seconds * self.sample_rate) + self.max_block_frames


def db_to_gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def _address(slot) -> int:
    return int(ffi.cast("uintptr_t", slot))


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        rate = config.sample_rate
        native = lib.sr_engine_new(
            rate, config.in_channels, config.out_channels, config.max_block_frames, config.max_latency_frames,
            max(1, int(config.crossfade_seconds * rate)), max(1, round(CONCEAL_SECONDS * rate)),
        )
        if native == ffi.NULL:
            raise MemoryError("cannot allocate the native engine")
        #: the ``sr_engine *`` a stream's callback gets as its userdata (freed with this object)
        self.native = ffi.gc(native, lib.sr_engine_delete)
        self.stats = EngineStats(self.native)
        self._in = np.zeros((config.max_block_frames, config.in_channels), np.float32)
        self._out = np.zeros((config.max_block_frames, config.out_channels), np.float32)
        self._strips: dict[int, Strip] = {}  # by slot address: every strip the callback may touch
        self._live: tuple[Strip, ...] = ()  # the same, for the worker to iterate without a lock
        self._mix_target = 1.0
        self._bypass = False
        self._gains_db = [0.0, 0.0]  # input, output
        self._sessions: dict = {}  # ONNX Runtime sessions by style file, shared by the racks that use it
        #: where style names in racks are looked up (besides the user's and the shipped styles)
        self.styles_dirs: list[str] = []
        self._tap = None
        self._demo: list = []  # the demo clips the callback may still read (the last two)
        self.worker = StyleWorker(self) if config.mode == "buffered" else None
        #: the callback count at each of the first style switches (to tell what a late block followed)
        self.switch_callbacks: list[int] = []

    # ---- control side (any thread but the audio thread) -------------------------------

    def prepare(self, target, params=None) -> Strip:
        """Load, check, open and warm up a style or a rack for this engine (slow; never on the
        audio thread). ``target``: a Style, a path, or a RackSpec; ``params`` (knobs by name)
        applies to a single style."""
        if not isinstance(target, RackSpec):
            target = RackSpec([SlotSpec(target if isinstance(target, Style) else str(target), dict(params or {}))])
        c = self.config
        return prepare_strip(
            target,
            resolve=lambda name: resolve(name, self.styles_dirs),
            sample_rate=c.sample_rate,
            block_frames=c.block_frames,
            max_block_frames=c.max_block_frames,
            buffered=c.mode == "buffered",
            margin_blocks=c.margin_blocks,
            max_latency_frames=c.max_latency_frames,
            passthrough_channels=c.out_channels,
            provider=c.provider,
            sessions=self._sessions,
            resampler=c.resampler,
        )

    def set_style(self, strip: Strip) -> None:
        """Switch to a prepared style: the callback pre-rolls it, then crossfades to it.
        Before the first block, or with no style playing, it takes over at once."""
        self.collect()
        wet = strip.wet
        slot = lib.sr_slot_new(self.native, wet.input.ring, wet.output.ring, wet.channels, strip.latency.total_frames)
        if slot == ffi.NULL:
            raise ConfigError(f"{strip.name}: does not fit this engine (channels or latency)")
        strip.slot = ffi.gc(slot, lib.sr_slot_delete)
        self._strips[_address(slot)] = strip
        if self._strip(lib.sr_engine_current) is None and self._strip(lib.sr_engine_incoming) is None \
                and self.stats.callbacks == 0:
            lib.sr_engine_set_first(self.native, slot)
        else:
            never_started = lib.sr_engine_swap_pending(self.native, slot)
            if never_started != ffi.NULL:
                self._strips.pop(_address(never_started), None)
        self._live = tuple(self._strips.values())
        if len(self.switch_callbacks) < 64:
            self.switch_callbacks.append(self.stats.callbacks)

    def load(self, target, params=None) -> Strip:
        """prepare() then set_style(); returns the strip. A refused style or rack raises and
        what is playing keeps playing."""
        strip = self.prepare(target, params)
        self.set_style(strip)
        return strip

    # ---- the rack ------------------------------------------------------------------------

    @property
    def rack(self) -> RackSpec:
        """What plays now (the newest rack, during a switch), with the master settings."""
        strip = self._newest()
        slots = [SlotSpec(s.spec.style, dict(s.spec.params), s.spec.mix, s.spec.bypass, s.spec.sha256)
                 for s in (strip.slots if strip else [])]
        return RackSpec(slots, self._mix_target, self._bypass, *self._gains_db)

    def set_rack(self, rack: RackSpec) -> Strip:
        """Play ``rack`` (crossfaded in) and take its master settings."""
        strip = self.load(rack)
        self.set_mix(rack.mix)
        self.set_bypass(rack.bypass)
        self.set_input_gain_db(rack.input_gain_db)
        self.set_output_gain_db(rack.output_gain_db)
        return strip

    def rack_slot(self, number: int) -> ChainSlot:
        strip = self._newest()
        slots = strip.slots if strip else []
        if not 1 <= int(number) <= len(slots):
            raise ConfigError(f"no slot {number} (the rack has {len(slots)})")
        return slots[int(number) - 1]

    def set_slot_mix(self, number: int, mix: float) -> None:
        self.rack_slot(number).set_mix(mix)

    def set_slot_bypass(self, number: int, bypass: bool) -> None:
        self.rack_slot(number).set_bypass(bypass)

    def _restructured(self, change) -> Strip:
        rack = self.rack
        change(rack.slots)
        return self.load(rack)

    def add_slot(self, style, position: int | None = None) -> Strip:
        """Insert ``style`` (a Style, name or path) at ``position`` (1-based; default: last)."""
        count = len(self.rack.slots)
        position = count + 1 if position is None else int(position)
        if not 1 <= position <= count + 1:
            raise ConfigError(f"cannot add at position {position} (the rack has {count} slots)")
        return self._restructured(lambda slots: slots.insert(position - 1, SlotSpec(style)))

    def remove_slot(self, number: int) -> Strip:
        self.rack_slot(number)
        return self._restructured(lambda slots: slots.pop(int(number) - 1))

    def move_slot(self, number: int, position: int) -> Strip:
        self.rack_slot(number)
        count = len(self.rack.slots)
        if not 1 <= int(position) <= count:
            raise ConfigError(f"cannot move to position {position} (the rack has {count} slots)")
        return self._restructured(lambda slots: slots.insert(int(position) - 1, slots.pop(int(number) - 1)))

    def set_slot_style(self, number: int, style) -> Strip:
        """Put another style in slot ``number`` (its mix and bypass stay, knobs start at defaults)."""
        self.rack_slot(number)

        def swap(slots: list[SlotSpec]) -> None:
            old = slots[int(number) - 1]
            slots[int(number) - 1] = SlotSpec(style, {}, old.mix, old.bypass)

        return self._restructured(swap)

    def slot_peaks(self) -> list[float]:
        """Each slot's output peak since the last call (the slot meters)."""
        strip = self._newest()
        return [s.take_peak() for s in strip.slots] if strip else []

    @property
    def notes(self) -> list[str]:
        """What to know about the rack playing: empty slots, styles changed since it was saved."""
        strip = self._newest()
        return list(strip.notes) if strip else []

    def collect(self) -> None:
        """Release the style the callback has retired (freeing it is not the audio thread's job)."""
        slot = lib.sr_engine_take_retired(self.native)
        if slot != ffi.NULL:
            strip = self._strips.pop(_address(slot))
            self._live = tuple(self._strips.values())
            self.stats.retired_non_finite_resets += strip.chain.non_finite_resets

    def set_mix(self, mix: float) -> None:
        """Wet share, 0.0 (dry) to 1.0 (all wet); smoothed."""
        self._mix_target = min(1.0, max(0.0, float(mix)))
        self._set_wet_target()

    def set_bypass(self, bypass: bool) -> None:
        """Fade the wet out (or back in); the dry path keeps its delay so nothing jumps."""
        self._bypass = bool(bypass)
        self._set_wet_target()

    def _set_wet_target(self) -> None:
        lib.sr_engine_set_target(self.native, lib.SR_WET_AMOUNT, 0.0 if self._bypass else self._mix_target)

    def set_input_gain_db(self, gain_db: float) -> None:
        self._gains_db[0] = float(gain_db)
        lib.sr_engine_set_target(self.native, lib.SR_INPUT_GAIN, db_to_gain(gain_db))

    def set_output_gain_db(self, gain_db: float) -> None:
        self._gains_db[1] = float(gain_db)
        lib.sr_engine_set_target(self.native, lib.SR_OUTPUT_GAIN, db_to_gain(gain_db))

    def set_param(self, name: str, value: float) -> float:
        """Set a knob; returns the value used (clamped to its range). ``name`` is
        ``SLOT.KNOB`` (SLOT: the slot's number or its style's name) or a plain ``KNOB``
        when only one slot has a knob of that name."""
        strip = self._newest()
        if strip is None:
            raise ConfigError("no style is loaded")
        slot, index = find_knob(strip.slots, name)
        used = slot.style.manifest.params[index].clamp(value)
        slot.runner.params[index] = used
        slot.spec.params[slot.style.manifest.params[index].name] = float(used)
        return used

    def knob(self, name: str):
        """(style name, knob spec) for ``[SLOT.]NAME`` in the rack playing."""
        strip = self._newest()
        if strip is None:
            raise ConfigError("no style is loaded")
        slot, index = find_knob(strip.slots, name)
        return slot.name, slot.style.manifest.params[index]

    def set_demo_input(self, clip: np.ndarray | None) -> None:
        """Loop ``clip: [frames] float32`` (mono, at the engine's rate) as the input on every
        channel instead of the device input; None goes back to the device."""
        if clip is None:
            lib.sr_engine_set_demo(self.native, ffi.NULL)
            return
        clip = np.ascontiguousarray(clip, np.float32)
        demo = ffi.new("sr_demo *", {"clip": float_ptr(clip), "frames": len(clip)})
        lib.sr_engine_set_demo(self.native, demo)
        self._demo = [*self._demo[-1:], (clip, demo)]  # the callback may still be reading the previous one

    def jump_to_targets(self) -> None:
        """Skip the smoothing of mix and gains (for an offline render that starts at its settings)."""
        lib.sr_engine_jump_to_targets(self.native)

    def non_finite_resets(self) -> int:
        """Style state resets after NaN/Inf, over every style this engine has played."""
        live = sum(s.chain.non_finite_resets for s in self._live)
        return self.stats.retired_non_finite_resets + live

    @property
    def tap(self):
        """An AudioFifo([out_channels, n]) that receives a copy of the output (recording), or None."""
        return self._tap

    @tap.setter
    def tap(self, fifo) -> None:
        lib.sr_engine_set_tap(self.native, fifo.ring if fifo is not None else ffi.NULL)
        self._tap = fifo

    def _strip(self, getter) -> Strip | None:
        slot = getter(self.native)
        return None if slot == ffi.NULL else self._strips.get(_address(slot))

    def _newest(self) -> Strip | None:
        return self._strip(lib.sr_engine_pending) or self._strip(lib.sr_engine_incoming) or self.current

    @property
    def current(self) -> Strip | None:
        return self._strip(lib.sr_engine_current)

    @property
    def latency(self) -> Latency | None:
        """The latency of the style playing (or about to play, during a switch)."""
        strip = self._newest()
        return strip.latency if strip else None

    def pump(self) -> int:
        """Run every style on the input that has reached it (one thread at a time: the worker,
        or ``process`` in direct mode); returns the style frames processed."""
        worked = 0
        for strip in self._live:
            try:
                worked += strip.wet.pump()
            except Exception:  # a failing style must not kill the worker: its wet goes late, counted
                self.stats.worker_errors += 1
        return worked

    def warm_up(self) -> None:
        """Run every style that has not played yet once on silence, on the calling thread (the
        worker, before audio flows), and reset it: its first call there is slow."""
        for strip in self._live:
            if strip.chain.fresh:
                strip.chain.warm_up(strip.chunk_frames, calls=2)

    def start(self) -> None:
        if self.worker:
            self.worker.start()

    def stop(self) -> None:
        if self.worker:
            self.worker.stop()
        self.collect()

    # ---- audio side (offline, and tests: live, the C callback runs the same halves) ----

    def process(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        """One block. ``indata: [frames, in_channels]``, ``outdata: [frames, out_channels]`` float32."""
        frames = indata.shape[0]
        if frames > self.config.max_block_frames or outdata.shape[0] != frames:
            self.stats.count_callback_error()
            outdata.fill(0.0)
            return
        source = indata
        if indata.dtype != np.float32 or not indata.flags.c_contiguous:
            source = self._in[:frames]
            source[...] = indata
        sink = outdata if outdata.dtype == np.float32 and outdata.flags.c_contiguous else self._out[:frames]
        lib.sr_engine_input(self.native, float_ptr(source), frames)
        if self.worker is None:
            started = time.perf_counter()
            self.pump()
            self.stats.record_style_time(time.perf_counter() - started)
        lib.sr_engine_output(self.native, float_ptr(sink), frames)
        if sink is not outdata:
            outdata[...] = sink


def find_knob(slots: list[ChainSlot], name: str) -> tuple[ChainSlot, int]:
    """The slot and knob index ``SLOT.KNOB`` or a plain ``KNOB`` names (see ``set_param``)."""
    playing = [(n, s) for n, s in enumerate(slots, 1) if not s.empty]
    if "." in name:
        which, knob = name.split(".", 1)
        if which.isdigit():
            chosen = [(n, s) for n, s in playing if n == int(which)]
            if not chosen:
                raise ConfigError(f"'{name}': no style in slot {which}")
        else:
            chosen = [(n, s) for n, s in playing if s.name.lower() == which.lower()]
            if not chosen:
                raise ConfigError(f"'{name}': no slot holds a style named '{which}'")
            if len(chosen) > 1:
                raise ConfigError(f"'{name}': {len(chosen)} slots hold '{which}'; name the slot by number")
        holders = chosen
    else:
        knob = name
        holders = [(n, s) for n, s in playing if any(p.name == knob for p in s.style.manifest.params)]
        if len(holders) > 1:
            where = ", ".join(f"{n}.{knob}" for n, _ in holders)
            raise ConfigError(f"knob '{knob}' is in {len(holders)} slots; say which: {where}")
        if not holders and len(playing) == 1:
            holders = playing  # its own message below names the style and its knobs
        elif not holders:
            known = ", ".join(f"{n}.{p.name}" for n, s in playing for p in s.style.manifest.params) or "none"
            raise ConfigError(f"no slot has a knob '{knob}' (knobs: {known})")
    number, slot = holders[0]
    try:
        return slot, slot.style.manifest.param_index(knob)
    except KeyError as exc:
        raise ConfigError(f"slot {number}: {exc.args[0]}") from None
