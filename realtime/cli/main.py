"""The ``stylerack`` command line.

Core subcommands live here (render, styles, devices, validate). Other packages add theirs
(the window's ``gui``, the trainer's ``train``...) through the ``stylerack.commands`` entry
point group: each entry is a function ``register(subparsers)`` that adds a subparser whose
``func(args) -> int`` does the work. That keeps this package free of Qt and torch.

User mistakes print one line on stderr and exit 2; a failed check exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from realtime import __version__
from realtime.errors import ConfigError, StyleRackError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (and exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message}")


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=NUMBER") from None


def _margin(text: str) -> int:
    from realtime.engine.engine import MAX_MARGIN_BLOCKS

    if not text.isdigit() or not 1 <= int(text) <= MAX_MARGIN_BLOCKS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a margin of 1 to {MAX_MARGIN_BLOCKS} blocks")
    return int(text)


def unit_interval(text: str) -> float:
    """An argparse type: a number in 0..1 (a mix, an amount)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1")
    return value


def _block(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of frames") from None
    if not 1 <= value <= 8192:
        raise argparse.ArgumentTypeError(f"{value} frames is outside 1..8192")
    return value


def add_styles_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--styles-dir", action="append", default=[], metavar="DIR", help="also look for styles here (repeatable)"
    )


def rack_from_args(args: argparse.Namespace):
    """The rack ``--style`` (repeatable, in chain order) or ``--rack FILE`` asks for; a style
    named on the command line must exist, a rack file's missing style leaves its slot empty."""
    from realtime.format.catalog import resolve
    from realtime.format.rack import RackSpec, SlotSpec, read_rack

    if args.rack and args.style:
        raise ConfigError("give --style (once per slot) or --rack, not both")
    if not args.rack and not args.style:
        raise ConfigError("give a style with --style NAME (repeat it for a chain) or a rack with --rack FILE.json")
    if args.rack:
        rack = read_rack(args.rack)
    else:
        rack = RackSpec([SlotSpec(resolve(name, args.styles_dir)) for name in args.style])
    if args.mix is not None:
        rack.mix = args.mix
    return rack


def apply_params(engine, params: list[tuple[str, float]]) -> None:
    """``--param [SLOT.]NAME=VALUE`` onto a loaded rack; says so on stderr when a value is
    not one the knob takes (the nearest one is used)."""
    for name, given in params:
        used = engine.set_param(name, given)
        if used != given:
            style, spec = engine.knob(name)
            steps = f", steps of {spec.step:g}" if spec.step else ""
            print(f"stylerack: note: {name}={given:g} is not a value '{style}' takes "
                  f"({_knob_range(spec)}{steps}); using {used:g}", file=sys.stderr)


def _print_notes(notes) -> None:
    for note in notes:
        print(f"stylerack: note: {note}", file=sys.stderr)


def add_rack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", action="append", default=[], metavar="STYLE",
                        help="style name or .onnx path; repeat it for a chain, in order")
    parser.add_argument("--rack", metavar="FILE.json", help="a rack file (instead of --style)")
    parser.add_argument("--mix", type=unit_interval, default=None, help="master wet share 0..1 (default: the rack's, or 1)")
    parser.add_argument("--param", type=_param, action="append", default=[], metavar="[SLOT.]NAME=VALUE",
                        help="a knob; SLOT is the style's name or its position (1 = first)")
    parser.add_argument("--resampler", choices=("low-latency", "soxr-hq"), default="low-latency",
                        help="when the audio's rate differs from the styles': low-latency (1.7 ms round trip, "
                             "flat to 18 kHz at 44.1 kHz) or soxr-hq (steeper, about 40 ms of buffering)")


def cmd_render(args: argparse.Namespace) -> int:
    from realtime.offline.render import render_file

    rack = rack_from_args(args)
    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            filled = int(30 * done / max(total, 1))
            sys.stderr.write(f"\rrendering [{'#' * filled}{'.' * (30 - filled)}] {100 * done // max(total, 1)}%")
            if done >= total:
                sys.stderr.write("\n")

    def ready(engine) -> None:
        apply_params(engine, args.param)
        _print_notes(engine.notes)

    result = render_file(
        args.input,
        args.output,
        rack,
        block_frames=args.block,
        mode=args.mode,
        resampler=args.resampler,
        overwrite=args.overwrite,
        progress=progress,
        styles_dirs=args.styles_dir,
        on_ready=ready,
    )
    seconds = result.frames / result.sample_rate
    print(
        f"wrote {result.out_path} ({seconds:.2f} s, {result.sample_rate} Hz, {result.channels} ch) "
        f"with '{result.style}', latency {result.latency_frames} frames compensated"
    )
    return EXIT_OK


def _knob_range(spec) -> str:
    return f"{spec.min:g}..{spec.max:g}{(' ' + spec.unit) if spec.unit else ''}"


def _knobs_text(manifest) -> str:
    return ", ".join(f"{p.name} {_knob_range(p)}" for p in manifest.params) or "-"


def styles_markdown(styles) -> str:
    """The README's tables: effect styles (ESR), timbre styles (sound distance, pitch following),
    voice and restoration styles (their knobs and latency; their measures are bench/voice.py's
    and bench/denoise.py's)."""
    from realtime.format.catalog import NON_EFFECT_CATEGORIES

    restorations = [s.manifest for s in styles if s.manifest.category == "restoration"]
    effects = [s.manifest for s in styles if s.manifest.category not in NON_EFFECT_CATEGORIES]
    voices = [s.manifest for s in styles if s.manifest.category == "voice"]
    timbres = [s.manifest for s in styles if s.manifest.category == "timbre"]
    lines = [
        "| style | category | knobs | latency | ESR, held-out music and speech | ESR, test signals | architecture | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in effects:
        esr, stress = m.provenance.get("esr", "-"), m.provenance.get("esr_test_signals", "-")
        lines.append(
            f"| {m.name} | {m.category} | {_knobs_text(m)} | {m.latency_samples} samples | {esr} | {stress} | "
            f"{m.provenance.get('architecture', '-')} | {m.description} |"
        )
    if timbres:
        lines += [
            "",
            "| timbre style | knobs (default transpose) | onset latency | MSS distance, held-out melodies (plain harmonic oscillator) | pitch error, median cents (spoken / sung) | weights |",
            "|---|---|---|---|---|---|",
        ]
    for m in timbres:
        p = m.provenance
        cents = p.get("pitch_error_cents", {})
        spoken = max((v for k, v in cents.items() if k.startswith("spoken")), default=float("nan"))
        transpose = next((q.default for q in m.params if q.name == "transpose"), 0.0)
        lines.append(
            f"| {m.name} | {_knobs_text(m)} ({transpose:+g} st) | {m.latency_samples / m.sample_rate * 1000:.1f} ms | "
            f"{p.get('mss_distance', '-')} ({p.get('mss_distance_harmonic_baseline', '-')}) | "
            f"{spoken:.1f} / {cents.get('sung', float('nan')):.1f} | {p.get('weights', '-')} |"
        )
    if voices:
        lines += ["", "| voice style | knobs (defaults) | onset latency | method | description |", "|---|---|---|---|---|"]
    for m in voices:
        defaults = ", ".join(f"{q.name} {q.default:+g}" for q in m.params)
        lines.append(
            f"| {m.name} | {_knobs_text(m)} ({defaults}) | {m.latency_samples / m.sample_rate * 1000:.1f} ms | "
            f"{m.provenance.get('source', '-')} | {m.description} |"
        )
    if restorations:
        lines += ["", "| restoration style | knobs (defaults) | latency | method | weights | description |",
                  "|---|---|---|---|---|---|"]
    for m in restorations:
        defaults = ", ".join(f"{q.name} {q.default:g}" for q in m.params)
        lines.append(
            f"| {m.name} | {_knobs_text(m)} ({defaults}) | {m.latency_samples / m.sample_rate * 1000:.1f} ms, "
            f"plus its {m.block_multiple}-sample hop buffered | {m.provenance.get('source', '-')} | {m.provenance.get('weights', '-')} | "
            f"{m.description} |"
        )
    return "\n".join(lines)


def cmd_styles(args: argparse.Namespace) -> int:
    from realtime.format.catalog import discover

    styles, refused = discover(args.styles_dir)
    if args.json:
        rows = [
            {
                "name": s.name,
                "path": str(s.path),
                "category": s.manifest.category,
                "description": s.manifest.description,
                "sample_rate": s.manifest.sample_rate,
                "channels": s.manifest.channels,
                "latency_samples": s.manifest.latency_samples,
                "params": [p.name for p in s.manifest.params],
                "provenance": s.manifest.provenance,
            }
            for s in styles
        ]
        print(json.dumps({"styles": rows, "refused": [{"path": str(r.path), "reason": r.reason} for r in refused]}, indent=2))
        return EXIT_OK
    if args.markdown:
        print(styles_markdown(styles))
        return EXIT_OK
    header = ("name", "category", "rate", "latency", "params", "provenance")
    table = [header]
    for s in styles:
        m = s.manifest
        knobs = ", ".join(f"{p.name} [{_knob_range(p)}]" for p in m.params)
        origin = m.provenance.get("source") or m.provenance.get("architecture") or ", ".join(m.provenance) or "-"
        table.append((m.name, m.category, str(m.sample_rate), f"{m.latency_samples} smp", knobs or "-", str(origin)))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if not styles:
        print("(no styles found)")
    for item in refused:
        print(f"refused: {item.reason}", file=sys.stderr)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realtime.errors import StyleNotFoundError
    from realtime.offline.validate import validate, validate_rack

    if not Path(args.path).exists():
        raise StyleNotFoundError(f"{args.path}: no such style or rack file")
    if Path(args.path).suffix.lower() == ".json":
        report = validate_rack(args.path, args.styles_dir)
    else:
        report = validate(args.path)
    for check in report.checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    if report.cost_us_per_block is not None:
        print(f"cost: {report.cost_us_per_block:.1f} us per 128-frame block ({report.real_time_factor:.4f} of real time)")
    print("valid" if report.ok else "INVALID")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_devices(args: argparse.Namespace) -> int:
    from realtime.live.devices import describe_devices

    print(describe_devices())
    return EXIT_OK


def _device(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def cmd_run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from realtime.cli.console import CommandReader, run_pending
    from realtime.format.catalog import discover
    from realtime.live.devices import looks_like_feedback
    from realtime.live import LiveHost, LiveSettings
    from realtime.live.lateness import LateBlockWatch

    if args.stats and not Path(args.stats).resolve().parent.is_dir():
        raise ConfigError(f"{args.stats}: folder does not exist")
    rack = rack_from_args(args)
    settings = LiveSettings(
        input=args.input,
        output=args.output,
        sample_rate=args.samplerate,
        block_frames=args.block,
        margin_blocks=args.margin,
        provider=args.provider,
        resampler=args.resampler,
    )
    host = LiveHost(settings)
    if host.block_note:
        print(f"stylerack: note: {host.block_note}", file=sys.stderr)
    host.engine.styles_dirs = list(args.styles_dir)
    strip = host.engine.set_rack(rack)
    apply_params(host.engine, args.param)
    _print_notes(host.engine.notes)
    muted = not args.allow_feedback and looks_like_feedback(host.devices.input_name, host.devices.output_name)
    if muted:
        host.engine.set_output_gain_db(float("-inf"))
        print(
            f"stylerack: warning: '{host.devices.input_name}' may hear '{host.devices.output_name}' (feedback); "
            "starting muted. Use headphones, or --allow-feedback to start unmuted.",
            file=sys.stderr,
        )
    host.engine.jump_to_targets()
    discover(args.styles_dir)  # read every style now: 'style NAME' then parses only a changed file
    host.start()
    code = EXIT_OK
    try:
        report = host.report()
        print(
            f"running '{strip.name}' on {host.devices.describe()} at {host.sample_rate} Hz, "
            f"block {args.block or 'device'} (style margin {args.margin}); latency {report['total_latency_ms']:.1f} ms "
            f"({report['total_latency_samples']} samples). Ctrl-C stops.",
            flush=True,
        )
        if muted:
            print("muted: type 'unmute' and Enter when the output cannot reach the microphone", flush=True)
        commands = CommandReader()
        lateness = LateBlockWatch(args.margin, host.block_frames, host.sample_rate, time.monotonic())
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.05)
            if not run_pending(host, commands, args.styles_dir):
                break
            warning = lateness.check(host.report, time.monotonic())
            if warning:
                print(f"stylerack: warning: {warning}", file=sys.stderr, flush=True)
            failure = host.poll()
            if failure:
                print(f"stylerack: error: {failure}", file=sys.stderr)
                code = EXIT_FAILED
                break
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
        report = host.report()
        if args.stats:
            Path(args.stats).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"stopped: {report['callbacks']} callbacks, {report['xruns']} xruns, {report['late_blocks']} late blocks, "
        f"{report['over_budget_callbacks']} callbacks over budget, style time median "
        f"{report['style_time_median_us']:.0f} us / p99 {report['style_time_p99_us']:.0f} us, "
        f"worker wake-up p99 {report['worker_wake_p99_us']:.0f} us"
    )
    if host.device_lost:  # PortAudio cannot be shut down over a dead device: leave now
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realtime.offline.bench import run_bench, table
    from realtime.format.catalog import discover, resolve

    if args.style:
        styles = [resolve(s, args.styles_dir) for s in args.style]
    else:
        styles, _ = discover(args.styles_dir)
    if not styles:
        raise ConfigError("no styles to measure (give --style or --styles-dir)")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise ConfigError(f"{args.json}: folder does not exist")

    def progress(done: int, total: int, what: str) -> None:
        sys.stderr.write(f"bench [{done}/{total}] {what}\n")
        sys.stderr.flush()

    results = run_bench(styles, args.blocks, progress, scaling=not args.skip_scaling, rack_only=args.rack_only)
    print(table(results, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="stylerack", description="Real-time neural audio styles.")
    parser.add_argument("--version", action="version", version=f"stylerack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    render = sub.add_parser("render", help="render a file through a style (offline, same engine)")
    render.add_argument("input", metavar="IN")
    render.add_argument("output", metavar="OUT")
    add_rack_options(render)
    render.add_argument("--block", type=_block, default=128, help="frames per block (default 128)")
    render.add_argument(
        "--mode", choices=("direct", "buffered"), default="direct",
        help="direct: the style between the mixer's halves; buffered: on the worker thread, as live (same output)",
    )
    render.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    add_styles_dir(render)
    render.set_defaults(func=cmd_render)

    styles = sub.add_parser("styles", help="list installed styles")
    styles.add_argument("--json", action="store_true")
    styles.add_argument("--markdown", action="store_true", help="a table for the README")
    add_styles_dir(styles)
    styles.set_defaults(func=cmd_styles)

    validate = sub.add_parser("validate", help="check a style (.onnx) or rack (.json) file: format, streaming, latency, cost")
    validate.add_argument("path", metavar="PATH")
    add_styles_dir(validate)
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="process live audio without a window")
    add_rack_options(run)
    run.add_argument("--input", type=_device, help="input device: index or part of its name")
    run.add_argument("--output", type=_device, help="output device: index or part of its name")
    run.add_argument("--samplerate", type=int, help="Hz (default: the output device's rate)")
    run.add_argument("--block", type=int, default=128, help="frames per block; 0 lets the device choose (default 128)")
    run.add_argument("--margin", type=_margin, default=1, help="blocks the style worker runs ahead of the callback (default 1)")
    run.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    run.add_argument("--stats", metavar="FILE.json", help="write counters and latency here at exit (replaced if it exists)")
    run.add_argument("--provider", choices=("cpu", "cuda"), default="cpu", help="ONNX Runtime execution provider")
    run.add_argument("--allow-feedback", action="store_true", help="do not start muted on built-in mic + speakers")
    add_styles_dir(run)
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser("bench", help="speed, latency and memory of every style, against the alternatives")
    bench.add_argument("--style", action="append", default=[], help="only these styles (repeatable)")
    bench.add_argument("--blocks", type=_block, nargs="+", default=[32, 64, 128, 256, 512], metavar="N")
    bench.add_argument("--json", metavar="FILE", help="also write every number as JSON (replaced if it exists)")
    bench.add_argument("--markdown", action="store_true", help="tables in Markdown (for the README)")
    bench.add_argument("--skip-scaling", action="store_true", help="leave out cost vs model size (it exports every architecture)")
    bench.add_argument("--rack-only", action="store_true", help="only the host's, the rack's and the resamplers' rows (quick)")
    add_styles_dir(bench)
    bench.set_defaults(func=cmd_bench)

    devices = sub.add_parser("devices", help="list audio devices")
    devices.set_defaults(func=cmd_devices)

    for entry in entry_points(group="stylerack.commands"):
        try:
            entry.load()(sub)
        except Exception as exc:  # a broken plugin must not take the core commands down
            print(f"stylerack: command '{entry.name}' unavailable: {exc}", file=sys.stderr)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args))
    except StyleRackError as exc:
        print(f"stylerack: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stylerack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
