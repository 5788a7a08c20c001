"""The device side: audio devices, the live host on a PortAudio stream (in this process, or
in an engine process of its own for the window), recording and the demo input."""

from realtime.live.host import LiveHost, LiveSettings

__all__ = ["LiveHost", "LiveSettings"]
