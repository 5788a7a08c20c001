"""Audio devices through python-sounddevice (PortAudio).

sounddevice is imported here only, lazily, so file rendering works on a machine without
PortAudio; its absence becomes one clear DeviceError.
"""

from __future__ import annotations

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
