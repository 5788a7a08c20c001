"""``stylerack train``: capture a style from a recording pair, match a reference, or re-create a
shipped style; and ``stylerack match``: match a recording to a reference offline.

Registered through the ``stylerack.commands`` entry point; torch is imported only when a
training command runs, so ``stylerack`` works without the ``train`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from realtime.cli.main import unit_interval
from realtime.errors import ConfigError

TRAIN_EXTRA = "training needs PyTorch: pip install 'stylerack[train]' (or scripts/setup.sh --dev)"


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError(TRAIN_EXTRA) from None


def _progress_bar(label: str, metric: str = "val ESR"):
    show = sys.stderr.isatty()
    last = [-1]

    def progress(step: int, steps: int, loss: float, best: float) -> None:
        percent = 100 * step // steps
        if not show and percent == last[0]:
            return
        if not show and percent % 10:
            return
        last[0] = percent
        filled = 30 * step // steps
        line = f"{label} [{'#' * filled}{'.' * (30 - filled)}] {step}/{steps} loss {loss:.4f} best {metric} {best:.4f}"
        sys.stderr.write(("\r" if show else "") + line + ("" if show and step < steps else "\n"))
        sys.stderr.flush()

    return progress


def cmd_capture(args: argparse.Namespace) -> int:
    _require_torch()
    from models.capture import run_capture

    out_dir = Path(args.out)
    report = run_capture(
        Path(args.dry), Path(args.wet), args.name, args.arch, args.steps, out_dir, args.overwrite,
        _progress_bar(f"capturing '{args.name}'"),
    )
    print(
        f"wrote {report['style']} (held-out ESR {report['validation_esr']:.4f}, delay found "
        f"{report['delay_samples']} samples, {report['size_bytes']} bytes, {report['real_time_factor']:.4f} of real time "
        f"per 128 frames); checkpoint and report in {out_dir}"
    )
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    _require_torch()
    from models.denoise_recipes import DENOISE_RECIPES, make_denoise_style
    from models.recipes import RECIPES, make_style
    from models.timbre_recipes import TIMBRE_RECIPES, make_timbre_style
    from models.voice_recipes import VOICE_RECIPES, make_voice_style

    known = [*RECIPES, *TIMBRE_RECIPES, *VOICE_RECIPES, *DENOISE_RECIPES]
    groups = {"all": known, "effects": list(RECIPES), "timbre": list(TIMBRE_RECIPES), "voice": list(VOICE_RECIPES),
              "restoration": list(DENOISE_RECIPES)}
    names = groups.get(args.name, [args.name])
    for name in names:
        if name not in known:
            raise ConfigError(f"no recipe '{name}' (recipes: {', '.join(known)}; or {', '.join(groups)})")
    for name in names:
        if name in VOICE_RECIPES:
            make, metric = make_voice_style, ""
        elif name in DENOISE_RECIPES:
            make, metric = make_denoise_style, "val loss"
        else:
            make, metric = (make_timbre_style, "val MSS") if name in TIMBRE_RECIPES else (make_style, "val ESR")
        report = make(name, args.steps, _progress_bar(f"training '{name}'", metric), evaluate_only=args.evaluate_only)
        print(json.dumps(report))
    return 0


def cmd_timbre(args: argparse.Namespace) -> int:
    _require_torch()
    from models.timbre_recipes import train_from_folder

    if args.steps < 4:
        raise ConfigError(f"--steps must be at least 4, got {args.steps}")
    report = train_from_folder(
        Path(args.target), args.name, args.steps, Path(args.out), args.overwrite, args.transpose,
        _progress_bar(f"training timbre '{args.name}'", "val MSS"),
    )
    sound = report["held_out_sound"]
    quality = (
        f"held-out MSS distance {sound['style_mss']:.3f} (plain harmonic oscillator {sound['baseline_mss']:.3f})"
        if sound else "no held-out part long enough to measure"
    )
    print(
        f"wrote {Path(args.out) / (args.name + '.onnx')} ({quality}, onset latency {report['latency_ms']} ms, "
        f"{report['real_time_factor']:.3f} of real time per 128 frames); checkpoint and report in {args.out}"
    )
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    _require_torch()
    from models.denoise_recipes import adapt_to_noise

    if args.steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {args.steps}")
    report = adapt_to_noise(Path(args.noise), args.name, Path(args.out), args.overwrite, args.steps,
                            _progress_bar(f"adapting to '{Path(args.noise).name}'", "val loss"),
                            lambda stage: print(stage, file=sys.stderr))
    scores = report["held_out_si_sdr_db"]
    print(f"wrote {Path(args.out) / (args.name + '.onnx')}: on the held-out {report['held_out_seconds']:.0f} s of your "
          f"noise under speech (SNR 0-10 dB), SI-SDR {scores['noisy']:.1f} dB noisy, {scores['shipped']:.1f} dB with "
          f"speech-denoise, {scores['adapted']:.1f} dB adapted; checkpoint, loss curve and report in {args.out}")
    return 0


def cmd_voice(args: argparse.Namespace) -> int:
    _require_torch()
    from models.voice_personal import train_voice

    report = train_voice(Path(args.target), args.name, Path(args.out), Path(args.source) if args.source else None,
                         args.overwrite, _stages(f"fitting voice '{args.name}'"))
    mapping = report["mapping"]
    start = (f"from the source's {mapping['prior_f0_hz']:.0f} Hz" if args.source else
             "learning the input's pitch as it plays (no --source: no spectral envelope either)")
    print(f"wrote {report['style']}: toward {mapping['target_f0_hz']:.0f} Hz (spread {mapping['target_spread_st']:.1f} "
          f"semitones), {start}; onset latency {report['latency_samples'] / 48:.1f} ms, "
          f"{report['real_time_factor']:.3f} of real time per 128 frames; report beside it")
    return 0


def _stages(label: str):
    """A progress bar for the match fit's stages (stage name, fraction done)."""
    show = sys.stderr.isatty()

    def progress(stage: str, done: float) -> None:
        filled = int(30 * done)
        line = f"{label} [{'#' * filled}{'.' * (30 - filled)}] {stage}"
        sys.stderr.write(("\r" + line.ljust(60)) if show else line + "\n")
        if show and done >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return progress


def cmd_train_match(args: argparse.Namespace) -> int:
    _require_torch()
    from models.match_run import train_match

    report = train_match(args.reference, args.source, args.name, Path(args.out), args.overwrite,
                         _stages(f"matching '{args.name}'"))
    after = report.get("after")
    detail = (f"; source to reference: bands within {report['before']['band_error_db_max']:.1f} dB before, "
              f"{after['band_error_db_max']:.1f} dB after, level {report['before']['level_error_db']:+.1f} dB before, "
              f"{after['level_error_db']:+.1f} dB after (loudness {after['loudness_error_lu']:+.1f} LU)") if after else ""
    print(f"wrote {report['style']} (fit in {report['fit_seconds']:.1f} s, {report['real_time_factor']:.4f} of real "
          f"time per 128 frames{detail}); report and plot beside it")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    _require_torch()
    from models.match_run import match_file

    report = match_file(args.source, args.reference, args.output, args.amount, args.overwrite, _stages("matching"))
    after = report["after"]
    print(f"wrote {args.output} (amount {args.amount:g}; bands within {after['band_error_db_max']:.1f} dB of the "
          f"reference, level {after['level_error_db']:+.1f} dB, loudness {after['loudness_error_lu']:+.1f} LU)")
    return 0


def register(subparsers) -> None:
    match = subparsers.add_parser("match", help="make a recording sound like a reference (offline, the same chain as the style)")
    match.add_argument("source", metavar="SRC")
    match.add_argument("reference", metavar="REF")
    match.add_argument("output", metavar="OUT")
    match.add_argument("--amount", type=unit_interval, default=1.0, help="how much of the match, 0..1 (default 1)")
    match.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    match.set_defaults(func=cmd_match)

    train = subparsers.add_parser("train", help="make styles: capture a recording pair, or re-create a shipped style")
    sub = train.add_subparsers(dest="train_command", metavar="WHAT", required=True, parser_class=type(train))

    capture = sub.add_parser("capture", help="a style from a dry/wet recording pair")
    capture.add_argument("--dry", required=True, help="the dry recording (what went into the effect)")
    capture.add_argument("--wet", required=True, help="the wet recording (what came out), same length and rate")
    capture.add_argument("--name", required=True)
    capture.add_argument("--arch", default="conv-8", help="conv-8, conv-12, gru-8, gru-16, gru-24 (default conv-8)")
    capture.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    capture.add_argument("--out", default=".", help="folder for NAME.onnx, NAME.pt and the report (default .)")
    capture.add_argument("--overwrite", action="store_true")
    capture.set_defaults(func=cmd_capture)

    timbre = sub.add_parser("timbre", help="an instrument style (timbre transfer) from monophonic recordings of it")
    timbre.add_argument("--target", required=True, help="a folder of recordings of the instrument (wav, flac, ogg, aiff)")
    timbre.add_argument("--name", required=True)
    timbre.add_argument("--steps", type=int, default=1200, help="training steps (default 1200, about 6 min on 2 cores)")
    timbre.add_argument("--transpose", type=float, default=0.0, help="the style's default transpose in semitones")
    timbre.add_argument("--out", default=".", help="folder for NAME.onnx, NAME.pt and the report (default .)")
    timbre.add_argument("--overwrite", action="store_true")
    timbre.set_defaults(func=cmd_timbre)

    matcher = sub.add_parser("match", help="a style that moves audio toward reference recordings (EQ, dynamics, drive, space)")
    matcher.add_argument("--reference", nargs="+", required=True, metavar="REF", help="one or more references (5 s or more)")
    matcher.add_argument("--source", help="a recording of what the style will process (default: a neutral, pink source)")
    matcher.add_argument("--name", required=True)
    matcher.add_argument("--out", default=".", help="folder for NAME.onnx, NAME.json and NAME.png (default .)")
    matcher.add_argument("--overwrite", action="store_true")
    matcher.set_defaults(func=cmd_train_match)

    voice = sub.add_parser("voice", help="a personal voice: moves any voice toward a target speaker's "
                                         "(pitch, formants, spectral envelope)")
    voice.add_argument("--target", required=True, help="a folder of recordings of the target speaker (20 s of speech "
                                                       "or more)")
    voice.add_argument("--source", help="a folder of recordings of the voice that will go in (for the spectral "
                                        "envelope, and the right pitch from the first word)")
    voice.add_argument("--name", required=True)
    voice.add_argument("--out", default=".", help="folder for NAME.onnx and NAME.json (default .)")
    voice.add_argument("--overwrite", action="store_true")
    voice.set_defaults(func=cmd_voice)

    denoise = sub.add_parser("denoise", help="adapt the speech-denoise style to your own noise (a fan, a room)")
    denoise.add_argument("--noise", required=True, help="a folder of recordings of the noise alone (8 s or more in all)")
    denoise.add_argument("--name", required=True)
    denoise.add_argument("--steps", type=int, default=300, help="training steps (default 300, a few minutes on 2 cores)")
    denoise.add_argument("--out", default=".", help="folder for NAME.onnx, NAME.pt and the report (default .)")
    denoise.add_argument("--overwrite", action="store_true")
    denoise.set_defaults(func=cmd_denoise)

    recipe = sub.add_parser("recipe", help="re-create a shipped style from scratch (a name, or all, effects, timbre, voice, restoration)")
    recipe.add_argument("name")
    recipe.add_argument("--steps", type=int, help="override the recipe's training steps")
    recipe.add_argument("--evaluate-only", action="store_true", help="re-measure and re-export the committed checkpoint")
    recipe.set_defaults(func=cmd_recipe)
