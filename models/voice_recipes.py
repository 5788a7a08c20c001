"""The shipped voice styles: one ``models.voice.VoiceModel`` each, with its own mode and knob
defaults. Nothing is trained (PSOLA has no weights), so a style is re-created exactly by
exporting it again: ``stylerack train recipe voice`` (or one name), which runs the export's
checks (PyTorch vs ONNX Runtime, streaming vs one call, ``validate``) before writing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from models.export import export_style
from models.pitch import RATE
from models.voice import ARCH, FORMANT, HOP, LATENCY, PITCH, VoiceModel

STYLES_DIR = Path(__file__).resolve().parent.parent / "realtime" / "styles"


@dataclass(frozen=True)
class VoiceRecipe:
    name: str
    mode: str
    pitch: float  # default, semitones
    formant: float  # default, semitones
    description: str
    latency: int = LATENCY  # declared: validate's tone onset is within 48 samples of it


VOICE_RECIPES = {
    r.name: r
    for r in (
        VoiceRecipe("deeper", "shift", -4.0, -2.0, "A deeper, larger voice: pitch and formants lowered together."),
        VoiceRecipe("younger", "shift", 4.0, 2.5, "A younger, smaller voice: pitch and formants raised together."),
        VoiceRecipe("feminine", "shift", 6.0, 2.5, "A typical male voice moved to a typical female range (pitch +6, formants +2.5)."),
        VoiceRecipe("masculine", "shift", -6.0, -2.5, "A typical female voice moved to a typical male range (pitch -6, formants -2.5)."),
        VoiceRecipe("robot", "robot", 0.0, 0.0, "A monotone machine voice: every voiced sound on one note (C3, 131 Hz, at pitch 0)."),
        # whisper's grains are half a period long, so a voiced onset is heard ~55 samples sooner
        # than the unvoiced path's exact LATENCY: declared between the two, within 48 of each
        VoiceRecipe("whisper", "whisper", 0.0, 0.0, "A whisper: the voice's own formants with no pitch in them.", 992),
    )
}


def voice_manifest(recipe: VoiceRecipe) -> dict:
    return {
        "schema": 1,
        "name": recipe.name,
        "description": recipe.description,
        "category": "voice",
        "sample_rate": RATE,
        "channels": 1,
        "block_multiple": HOP,
        "latency_samples": recipe.latency,
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


def make_voice_style(name: str, steps=None, progress=None, evaluate_only: bool = False, out_dir: Path = STYLES_DIR) -> dict:
    """Export (and verify) a shipped voice style; returns the export's numbers. ``steps``,
    ``progress`` and ``evaluate_only`` are the other recipes' arguments: nothing is trained."""
    if name not in VOICE_RECIPES:
        raise KeyError(f"unknown voice recipe '{name}' (recipes: {', '.join(VOICE_RECIPES)})")
    recipe = VOICE_RECIPES[name]
    report = export_style(VoiceModel(recipe.mode), voice_manifest(recipe), Path(out_dir) / f"{name}.onnx")
    return {"name": name, "mode": recipe.mode, **report.numbers()}
