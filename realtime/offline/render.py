"""Offline render: a file through the very same engine, in device-sized blocks, no device.

The output has the input's length, rate and channel count and is aligned with it: the
engine's latency is skipped at the start and the tail is flushed with silence. The result
is written to a temporary file next to OUT and moved into place only when complete, so a
failed render never leaves a half-written OUT or touches an existing one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from realtime.engine import Engine, EngineConfig
from realtime.errors import AudioFileError, ConfigError
from realtime.format.rack import RackSpec, SlotSpec
from realtime.format.style import Style

Progress = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class RenderResult:
    out_path: Path
    frames: int
    sample_rate: int
    channels: int
    latency_frames: int
    style: str


def _open_input(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a folder, not an audio file")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({exc})") from None


def check_output_path(in_path: Path, out_path: Path, overwrite: bool) -> None:
    same = out_path.resolve() == in_path.resolve() or (out_path.exists() and os.path.samefile(in_path, out_path))
    if same:
        raise ConfigError(f"{out_path}: is the input file; choose another output")
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a folder; give an output file name")
    if out_path.exists() and not overwrite:
        raise ConfigError(f"{out_path}: already exists (use --overwrite to replace it)")
    if not out_path.parent.is_dir():
        raise ConfigError(f"{out_path.parent}: output folder does not exist")
    if out_path.suffix.lower().lstrip(".") not in {"wav", "flac", "ogg"}:
        raise ConfigError(f"{out_path}: unsupported output type '{out_path.suffix}' (use .wav, .flac or .ogg)")


def _output_subtype(source: sf.SoundFile, out_format: str) -> str | None:
    if sf.check_format(out_format, source.subtype):
        return source.subtype
    return None  # soundfile's default for that format


def render_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    target: Style | RackSpec,
    *,
    mix: float | None = None,
    block_frames: int = 128,
    mode: str = "direct",
    resampler: str = "low-latency",
    params: Mapping[str, float] | Sequence[tuple[str, float]] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    styles_dirs: Sequence[str] = (),
    on_ready: Callable[[Engine], None] | None = None,
) -> RenderResult:
    """Render ``in_path`` through a style or a rack into ``out_path``. ``params``: knobs as
    ``[SLOT.]NAME`` -> value; ``mix``: the master mix (default: the rack's, or 1);
    ``on_ready(engine)`` is called once the rack is loaded (to show its notes)."""
    in_path, out_path = Path(in_path), Path(out_path)
    with _open_input(in_path) as source:
        check_output_path(in_path, out_path, overwrite)
        total = source.frames
        config = EngineConfig(
            sample_rate=source.samplerate,
            block_frames=block_frames,
            in_channels=source.channels,
            out_channels=source.channels,
            mode=mode,
            resampler=resampler,
        )
        engine = Engine(config)
        engine.styles_dirs = list(styles_dirs)
        rack = target if isinstance(target, RackSpec) else RackSpec([SlotSpec(target)])
        strip = engine.set_rack(rack)
        for name, value in (params.items() if isinstance(params, Mapping) else params or ()):
            engine.set_param(name, value)
        if mix is not None:
            engine.set_mix(mix)
        if on_ready:
            on_ready(engine)
        engine.jump_to_targets()
        latency = engine.latency.total_frames
        out_format = out_path.suffix.lower().lstrip(".").upper()
        handle, temp_name = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=out_path.suffix, dir=out_path.parent)
        os.close(handle)
        engine.start()
        try:
            with sf.SoundFile(
                temp_name, "w", source.samplerate, source.channels, _output_subtype(source, out_format), format=out_format
            ) as sink:
                _stream(engine, source, sink, total, latency, block_frames, progress)
            os.chmod(temp_name, 0o644)  # mkstemp makes it private; OUT is an ordinary file
            os.replace(temp_name, out_path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        finally:
            engine.stop()
    return RenderResult(out_path, total, config.sample_rate, config.in_channels, latency, strip.name)


def _stream(engine: Engine, source, sink, total: int, latency: int, block_frames: int, progress) -> None:
    """Feed blocks (zero-padded past the end), drop the first ``latency`` output frames,
    write exactly ``total`` frames."""
    channels = source.channels
    block_in = np.zeros((block_frames, channels), np.float32)
    block_out = np.zeros((block_frames, channels), np.float32)
    to_skip, written, reported = latency, 0, 0
    while written < total:
        got = source.read(block_frames, dtype="float32", always_2d=True, out=block_in)
        block_in[len(got) :] = 0.0
        engine.process(block_in, block_out)
        if engine.worker is not None:
            engine.worker.drain()
        usable = block_out
        if to_skip:
            skipped = min(to_skip, block_frames)
            usable = block_out[skipped:]
            to_skip -= skipped
        usable = usable[: total - written]
        if len(usable):
            sink.write(usable)
            written += len(usable)
        if progress and written - reported >= 1 << 16:
            progress(written, total)
            reported = written
    if progress:
        progress(written, total)
