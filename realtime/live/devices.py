"""Audio devices through python-sounddevice (PortAudio).

sounddevice is imported here only, lazily, so file rendering works on a machine without
PortAudio; its absence becomes one clear DeviceError.
"""

from __future__ import annotations

from dataclasses import dataclass

from realtime.errors import DeviceError


def import_sounddevice():
    try:
        import sounddevice
    except OSError as exc:
        raise DeviceError(
            f"PortAudio is not available ({exc}); install it (Debian/Ubuntu: apt-get install libportaudio2)"
        ) from None
    return sounddevice


def describe_devices() -> str:
    """A table of every device: index, name, host API, channels in/out, default rate."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    if not len(devices):
        return "no audio devices found"
    lines = [f"{'#':>3}  {'name':40}  {'host API':12}  {'in':>3}  {'out':>3}  rate"]
    for index, device in enumerate(devices):
        api = apis[device["hostapi"]]["name"]
        lines.append(
            f"{index:>3}  {device['name'][:40]:40}  {api[:12]:12}  {device['max_input_channels']:>3}  "
            f"{device['max_output_channels']:>3}  {device['default_samplerate']:.0f}"
        )
    return "\n".join(lines)


COMMON_RATES = (44100, 48000, 88200, 96000, 32000, 22050, 16000)
FEEDBACK_BUILTIN = ("built-in", "builtin", "internal", "macbook", "laptop", "integrated")
FEEDBACK_SAFE_OUTPUT = ("headphone", "headset", "earphone", "earbud", "airpods", "phones", "line out")


@dataclass(frozen=True)
class DeviceChoice:
    """The input and output device a stream will use, with their channel counts."""

    input_index: int
    output_index: int
    input_name: str
    output_name: str
    in_channels: int
    out_channels: int
    default_rate: float
    default_low_latency_s: float

    def describe(self) -> str:
        if self.input_index == self.output_index:
            return f"device '{self.output_name}'"
        return f"input '{self.input_name}' / output '{self.output_name}'"

    def default_block_frames(self, sample_rate: int) -> int:
        """The block to plan for when the device chooses (``--block 0``): its low latency."""
        return max(16, min(8192, round(self.default_low_latency_s * sample_rate) or 256))


def _pick(sd, spec: str | int | None, kind: str) -> tuple[int, dict]:
    """A device index by number, by case-insensitive name substring, or the default."""
    devices = sd.query_devices()
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    if spec is None or spec == "":
        index = sd.default.device[0 if kind == "input" else 1]
        if index is None or index < 0:
            raise DeviceError(f"there is no default {kind} device; choose one (see 'stylerack devices')")
    elif isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if not 0 <= index < len(devices):
            raise DeviceError(f"{kind} device #{index} does not exist ({len(devices)} devices; see 'stylerack devices')")
    else:
        wanted = str(spec).lower()
        matches = [i for i, d in enumerate(devices) if wanted in d["name"].lower() and d[key] > 0]
        if not matches:
            names = ", ".join(f"'{d['name']}'" for d in devices if d[key] > 0) or "none"
            raise DeviceError(f"no {kind} device matches '{spec}' ({kind} devices: {names})")
        exact = [i for i in matches if devices[i]["name"].lower() == wanted]
        index = (exact or matches)[0]
    info = devices[index]
    if info[key] < 1:
        raise DeviceError(f"device '{info['name']}' has no {kind} channels")
    return index, info


def resolve_devices(sd, input_spec, output_spec, max_channels: int = 2) -> DeviceChoice:
    try:
        in_index, in_info = _pick(sd, input_spec, "input")
        out_index, out_info = _pick(sd, output_spec, "output")
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot query audio devices: {exc}") from None
    return DeviceChoice(
        input_index=in_index,
        output_index=out_index,
        input_name=in_info["name"],
        output_name=out_info["name"],
        in_channels=min(max_channels, in_info["max_input_channels"]),
        out_channels=min(max_channels, out_info["max_output_channels"]),
        default_rate=float(out_info["default_samplerate"]),
        default_low_latency_s=float(out_info["default_low_output_latency"]),
    )


def supported_rates(sd, choice: DeviceChoice) -> list[int]:
    rates = []
    for rate in COMMON_RATES:
        try:
            sd.check_input_settings(choice.input_index, channels=choice.in_channels, dtype="float32", samplerate=rate)
            sd.check_output_settings(choice.output_index, channels=choice.out_channels, dtype="float32", samplerate=rate)
        except Exception:
            continue
        rates.append(rate)
    return sorted(rates)


def check_rate(sd, choice: DeviceChoice, sample_rate: int) -> None:
    """Ask PortAudio before opening; a rate the devices cannot do is one clear DeviceError."""
    checks = (
        ("input", choice.input_name, sd.check_input_settings, choice.input_index, choice.in_channels),
        ("output", choice.output_name, sd.check_output_settings, choice.output_index, choice.out_channels),
    )
    for kind, name, check, index, channels in checks:
        try:
            check(index, channels=channels, dtype="float32", samplerate=sample_rate)
        except Exception as exc:
            rates = ", ".join(str(r) for r in supported_rates(sd, choice)) or "none of the common rates"
            raise DeviceError(
                f"{kind} device '{name}' cannot run at {sample_rate} Hz ({exc}); it supports: {rates}"
            ) from None


def looks_like_feedback(input_name: str, output_name: str) -> bool:
    """True when a built-in microphone would hear built-in speakers (not headphones)."""
    mic, out = input_name.lower(), output_name.lower()
    if any(word in out for word in FEEDBACK_SAFE_OUTPUT):
        return False
    builtin_mic = any(word in mic for word in FEEDBACK_BUILTIN) or "microphone" in mic
    builtin_out = any(word in out for word in FEEDBACK_BUILTIN) or "speaker" in out
    return builtin_mic and builtin_out


def list_devices() -> list[dict]:
    """Every device as a plain dict: index, name, host_api, inputs, outputs, default_rate."""
    sd = import_sounddevice()
    try:
        devices, apis = sd.query_devices(), sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    return [
        {
            "index": i, "name": d["name"], "host_api": apis[d["hostapi"]]["name"], "inputs": d["max_input_channels"],
            "outputs": d["max_output_channels"], "default_rate": d["default_samplerate"],
        }
        for i, d in enumerate(devices)
    ]


def refresh_devices() -> None:
    """Rescan devices (PortAudio scans only at start). Only while no stream is open."""
    sd = import_sounddevice()
    sd._terminate()
    sd._initialize()
