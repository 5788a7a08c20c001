"""The shipped voice styles: one ``models.voice.VoiceModel`` each, with its own mode and knob
defaults. Nothing is trained (PSOLA has no weights), so a style is re-created exactly by
exporting it again: ``stylerack train recipe voice`` (or one name), which runs the export's
checks (PyTorch vs ONNX Runtime, streaming vs one call, ``validate``) before writing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import torch

from models.export import ExportError, export_style
from models.pitch import RATE
from models.voice import ARCH, FORMANT, HOP, LATENCY, PITCH, VoiceModel
from realtime.format.manifest import DEFAULT_PROBE_HZ
from realtime.offline.validate import onset_delay

STYLES_DIR = Path(__file__).resolve().parent.parent / "realtime" / "styles"


@dataclass(frozen=True)
class VoiceRecipe:
    name: str
    mode: str
    pitch: float  # default, semitones
    formant: float  # default, semitones
    description: str


VOICE_RECIPES = {
    r.name: r
    for r in (
        VoiceRecipe("deeper", "shift", -4.0, -2.0, "A deeper, larger voice: pitch and formants lowered together."),
        VoiceRecipe("younger", "shift", 4.0, 2.5, "A younger, smaller voice: pitch and formants raised together."),
        VoiceRecipe("feminine", "shift", 6.0, 2.5, "A typical male voice moved to a typical female range (pitch +6, formants +2.5)."),
        VoiceRecipe("masculine", "shift", -6.0, -2.5, "A typical female voice moved to a typical male range (pitch -6, formants -2.5)."),
        VoiceRecipe("robot", "robot", 0.0, 0.0, "A monotone machine voice: every voiced sound on one note (E3, 165 Hz, at pitch 0)."),
        VoiceRecipe("whisper", "whisper", 0.0, 0.0, "A whisper: the voice's own formants with no pitch in them."),
    )
}


def onset_latency(model: VoiceModel, recipe: VoiceRecipe, frequency_hz: float = DEFAULT_PROBE_HZ) -> int:
    """The latency to declare: ``validate``'s tone-onset delay at the recipe's default knobs,
    measured on the model itself and rounded to 8 samples. A voiced onset waits for its first
    grain (up to half an output period), and its first grains are cross-faded with the quiet
    period before it, so it depends on the pitch knob: unvoiced sound is exactly ``LATENCY``
    late, voiced sound around this."""
    params = torch.tensor([[recipe.pitch, recipe.formant]])

    def run(audio):
        with torch.no_grad():
            return model(torch.from_numpy(audio)[None, None], params, chunk=HOP)[0, 0].numpy()

    measured = onset_delay(run, RATE, frequency_hz)
    if measured is None:
        raise ExportError(f"voice style '{recipe.name}': no output for a tone, so no latency to declare")
    return int(8 * round(measured / 8))


#: tones (Hz) whose onset delay a voice style's declared latency covers: low (male) to high
#: (female) voices. The onset depends on the input's pitch: when only 220 Hz was probed,
#: ``feminine`` started 1278 samples late on a 110 Hz tone against 1056 declared; with 110 and
#: 220 Hz, whisper started 1485 late on a 90 Hz tone and feminine 1166 on a 300 Hz one
PROBE_TONES_HZ = (90.0, 110.0, 165.0, 220.0, 300.0)


@dataclass(frozen=True)
class DeclaredOnset:
    """What a voice style declares: its latency, the probe tone that latency was measured on
    (the latest onset of the tones probed) and every tone's onset (samples)."""

    latency_samples: int
    probe_hz: float
    by_tone: dict

    def report(self) -> dict:
        return {"latency_samples": self.latency_samples, "latency_probe_hz": self.probe_hz,
                "onset_latency_by_tone": {f"{hz:g} Hz": samples for hz, samples in self.by_tone.items()}}


def declared_onset(model: VoiceModel, recipe: VoiceRecipe, tones_hz=PROBE_TONES_HZ) -> DeclaredOnset:
    """The onset to declare: the latest of ``tones_hz``, which ``validate`` checks again on the
    exported style at that tone."""
    onsets = {float(hz): onset_latency(model, recipe, float(hz)) for hz in sorted(set(tones_hz))}
    probe_hz = max(onsets, key=lambda hz: onsets[hz])
    return DeclaredOnset(onsets[probe_hz], probe_hz, onsets)


def voice_manifest(recipe: VoiceRecipe, onset: DeclaredOnset | None = None) -> dict:
    """A voice style's manifest; its latency the declared ``onset`` (the grains' LATENCY without
    one), with the probe tone named where it is not the default."""
    manifest = {
        "schema": 1,
        "name": recipe.name,
        "description": recipe.description,
        "category": "voice",
        "sample_rate": RATE,
        "channels": 1,
        "block_multiple": HOP,
        "latency_samples": onset.latency_samples if onset is not None else LATENCY,
        "latency_probe": "onset",
        "params": [PITCH | {"default": recipe.pitch}, FORMANT | {"default": recipe.formant}],
        "provenance": {
            "source": f"pitch-synchronous overlap-add (models/voice.py), mode '{recipe.mode}'",
            "architecture": ARCH,
            "weights": 0,
            "date": datetime.date.today().isoformat(),
            "recipe": f"stylerack train recipe {recipe.name}",
        },
    }
    if onset is not None and onset.probe_hz != DEFAULT_PROBE_HZ:
        manifest["latency_probe_hz"] = onset.probe_hz
    return manifest


def make_voice_style(name: str, steps=None, progress=None, evaluate_only: bool = False, out_dir: Path = STYLES_DIR) -> dict:
    """Export (and verify) a shipped voice style; returns the export's numbers. ``steps``,
    ``progress`` and ``evaluate_only`` are the other recipes' arguments: nothing is trained."""
    if name not in VOICE_RECIPES:
        raise KeyError(f"unknown voice recipe '{name}' (recipes: {', '.join(VOICE_RECIPES)})")
    recipe = VOICE_RECIPES[name]
    model = VoiceModel(recipe.mode).eval()
    onset = declared_onset(model, recipe)
    report = export_style(model, voice_manifest(recipe, onset), Path(out_dir) / f"{name}.onnx")
    return {"name": name, "mode": recipe.mode, **onset.report(), **report.numbers()}
