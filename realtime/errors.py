"""One error root for StyleRack, with specific leaves.

Every message names the file or device concerned and what is wrong, in one line,
so the command line can print it as is and exit 2.
"""


class StyleRackError(Exception):
    """Root of every error StyleRack raises on purpose."""


class StyleFormatError(StyleRackError):
    """A style file breaks the style format (docs/style-format.md)."""


class StyleNotFoundError(StyleRackError):
    """No style matches a name or path."""


class AudioFileError(StyleRackError):
    """An audio file cannot be read or written."""


class DeviceError(StyleRackError):
    """An audio device cannot be opened or has gone away."""


class ConfigError(StyleRackError):
    """A setting or option value is out of range or inconsistent."""


class RackFormatError(StyleRackError):
    """A rack file is unreadable, broken or of an unknown schema."""
