"""A prepared rack ready to play: its chain of styles and wet path, warmed up, with its latency.

Preparing (loading, checking, opening sessions, warming up) is slow and happens off the
audio thread; the engine only ever receives finished ``Strip`` objects. A single style
is a rack of one slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from realtime.engine.chain import Chain, ChainSlot, check_slot_channels, lcm_all
from realtime.engine.resample import DEFAULT_RESAMPLER
from realtime.engine.runner import StyleRunner, open_session, round_up
from realtime.engine.wetpath import WetPath
from realtime.errors import ConfigError, StyleNotFoundError
from realtime.format.rack import RackSpec, SlotSpec, file_sha256
from realtime.format.style import Style, load_style

MAX_STYLE_CHANNELS = 8
WARMUP_CALLS = 4
#: the fewest frames a chain's buffers hold (a longer device block is run in pieces)
MIN_CHAIN_FRAMES = 4096

Resolver = Callable[[str], Style]


@dataclass(frozen=True)
class Latency:
    """Where a strip's delay comes from, in device frames at ``sample_rate``.

    ``style_frames``: the style's own algorithmic delay (fractional when resampled);
    ``buffering_frames``: ring priming for the block multiple and the resampler's bursts;
    ``worker_frames``: buffered mode's margin of blocks; ``resampling_frames``: the
    resampler's filters, device -> style -> device; ``total_frames``: all of it, rounded to a
    whole frame, which is also how far the dry path is delayed."""

    sample_rate: int
    style_frames: float
    buffering_frames: int
    worker_frames: int
    total_frames: int
    #: each slot's (name, style delay in device frames), in chain order
    parts: tuple[tuple[str, float], ...] = field(default=())
    resampling_frames: int = 0

    @property
    def total_ms(self) -> float:
        return 1000.0 * self.total_frames / self.sample_rate

    def as_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "style_latency_samples": self.style_frames,
            "buffering_latency_samples": self.buffering_frames,
            "worker_latency_samples": self.worker_frames,
            "resampling_latency_samples": self.resampling_frames,
            "algorithmic_latency_samples": self.total_frames,
            "algorithmic_latency_ms": round(self.total_ms, 3),
            "slots": [{"style": name, "latency_samples": frames} for name, frames in self.parts],
        }


class Strip:
    """A rack between the engine's input and its mixer."""

    def __init__(self, chain: Chain, wet: WetPath, latency: Latency, chunk_frames: int, notes: list[str]) -> None:
        self.chain = chain
        self.chunk_frames = chunk_frames  # what the chain runs on per device block (block multiple included)
        self.slot = None  # its place in the native engine, once an engine plays it
        self.wet = wet
        self.latency = latency
        self.notes = notes  # empty slots and changed styles, one line each
        self.name = " > ".join(s.name for s in chain.slots) or "(empty rack)"

    @property
    def slots(self) -> list[ChainSlot]:
        return self.chain.slots


def _load_slot(spec: SlotSpec, number: int, resolve: Resolver) -> tuple[Style | None, str | None]:
    """The slot's style, or None with the reason the slot stays empty."""
    if isinstance(spec.style, Style):
        return spec.style, None
    try:
        style = resolve(spec.style)
    except StyleNotFoundError:
        return None, f"slot {number} is empty: style '{spec.style}' is not installed"
    note = None
    if spec.sha256 and file_sha256(style.path) != spec.sha256:
        note = f"slot {number}: style '{style.name}' has changed since the rack was saved ({style.path})"
    return style, note


def build_chain(
    rack: RackSpec,
    *,
    block_frames: int,
    resolve: Resolver = load_style,
    passthrough_rate: int = 48000,
    passthrough_channels: int = 1,
    provider: str = "cpu",
    sessions: dict | None = None,
    min_frames: int = MIN_CHAIN_FRAMES,
) -> tuple[Chain, int, list[str]]:
    """Resolve and open a rack's styles as a Chain (not warmed up). Returns the chain, the
    frames it runs on per ``block_frames`` block (block multiple included) and the notes.

    Raises StyleFormatError for a refused style file and ConfigError when the slots do not
    fit together (too many channels, mixed rates, an unknown knob). A style that is not
    installed leaves its slot empty, with a note."""
    sessions = {} if sessions is None else sessions
    loaded: list[tuple[SlotSpec, Style | None, str | None]] = []
    for number, spec in enumerate(rack.slots, 1):
        style, note = _load_slot(spec, number, resolve)
        if style is not None and style.manifest.channels > MAX_STYLE_CHANNELS:
            raise ConfigError(
                f"{style.path}: {style.manifest.channels} channels; StyleRack runs styles of up to {MAX_STYLE_CHANNELS}"
            )
        loaded.append((spec, style, note))
    styles = [(n, s) for n, (_, s, _) in enumerate(loaded, 1) if s is not None]
    if styles:
        chain_rate = styles[0][1].manifest.sample_rate
        for number, style in styles:
            if style.manifest.sample_rate != chain_rate:
                raise ConfigError(
                    f"{style.path}: slot {number} runs at {style.manifest.sample_rate} Hz; every style in a rack "
                    f"must share the first one's rate ({chain_rate} Hz)"
                )
        channels = check_slot_channels([s.manifest.channels for _, s in styles], [s.name for _, s in styles])
    else:
        chain_rate, channels = passthrough_rate, min(MAX_STYLE_CHANNELS, passthrough_channels)
    multiple = lcm_all(s.manifest.block_multiple for _, s in styles)
    chunk = round_up(max(block_frames, multiple), multiple)
    max_frames = round_up(max(chunk, min_frames), multiple)
    slots = []
    for number, (spec, style, note) in enumerate(loaded, 1):
        runner = None
        live = SlotSpec(style if style is not None else spec.style, dict(spec.params), spec.mix, spec.bypass, spec.sha256)
        if style is not None:
            key = (str(style.path), provider)
            if key not in sessions:
                sessions[key] = open_session(style, provider)
            runner = StyleRunner(style, max_frames=max_frames, provider=provider, session=sessions[key])
            runner.set_params(_knob_values(style, spec.params, number))
            live.params = {p.name: float(runner.params[i]) for i, p in enumerate(style.manifest.params)}
        slots.append(ChainSlot(live, style, runner, channels, max_frames, chain_rate, note))
    notes = [n for _, _, n in loaded if n]
    return Chain(slots, chain_rate, channels, multiple, max_frames), chunk, notes


def prepare_strip(
    rack: RackSpec,
    *,
    resolve: Resolver = load_style,
    sample_rate: int,
    block_frames: int,
    max_block_frames: int,
    buffered: bool,
    margin_blocks: int,
    max_latency_frames: int,
    passthrough_channels: int = 1,
    provider: str = "cpu",
    sessions: dict | None = None,
    resampler: str = DEFAULT_RESAMPLER,
) -> Strip:
    """Resolve, open, warm up and measure a rack for the engine (see ``build_chain``); raises
    ConfigError when its latency does not fit this engine."""
    chain, chunk, notes = build_chain(
        rack, block_frames=block_frames, resolve=resolve, passthrough_rate=sample_rate,
        passthrough_channels=passthrough_channels, provider=provider, sessions=sessions,
    )
    chain.warm_up(chunk, WARMUP_CALLS)  # first calls are slow: do them here, not with audio waiting
    wet = WetPath(chain, sample_rate, block_frames, max_block_frames, resampler)
    worker_frames = margin_blocks * block_frames if buffered else 0
    wet.output.write(0.0, worker_frames)
    total = wet.priming_frames + worker_frames + round(wet.style_latency_frames) + wet.resampling_frames
    parts = tuple((s.name, s.latency_samples * sample_rate / chain.sample_rate) for s in chain.slots)
    latency = Latency(sample_rate, wet.style_latency_frames, wet.priming_frames, worker_frames, total, parts,
                      wet.resampling_frames)
    if total + max_block_frames > max_latency_frames:
        names = " > ".join(s.name for s in chain.slots)
        raise ConfigError(
            f"{names}: latency {total} frames is more than this engine holds ({max_latency_frames - max_block_frames})"
        )
    return Strip(chain, wet, latency, chunk, notes)


def _knob_values(style: Style, params: dict[str, float], number: int) -> list[float]:
    manifest = style.manifest
    values = [p.default for p in manifest.params]
    for name, value in params.items():
        try:
            values[manifest.param_index(name)] = value
        except KeyError as exc:
            raise ConfigError(f"slot {number} ({style.name}): {exc.args[0]}") from None
    return values
