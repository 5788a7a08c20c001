"""``stylerack bench``: speed, latency and memory of every style, against the alternatives.

Per style, at 48 kHz and device blocks of 32..512 frames, on one core (one ONNX Runtime
thread): the engine's callback in direct mode, the callback and the worker in buffered
mode, the bare ONNX Runtime call on the same block, and, where the ``train`` extra is
installed, the same model in PyTorch eager and TorchScript. Also the host's overhead (an
identity style through the whole engine vs the bare call), the rack's (each slot's cost
beyond its bare style call, and a rack of four effect styles), resident memory with every
style loaded, each style's latency, and cost against model size for the architectures in
``models/``. Comparisons come from plug-ins in the ``stylerack.bench_references`` entry
point group, so this module never imports torch.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from realtime.format.catalog import NON_EFFECT_CATEGORIES
from realtime.engine import Engine, EngineConfig
from realtime.engine.runner import StyleRunner, round_up
from realtime.engine.strip import build_chain
from realtime.format.rack import RackSpec, SlotSpec
from realtime.format.style import Style, load_style

RATE = 48000
BLOCKS = (32, 64, 128, 256, 512)
CALLS = 400
WARMUP = 40


def _median_p99_us(seconds: np.ndarray) -> tuple[float, float]:
    return float(np.median(seconds) * 1e6), float(np.percentile(seconds, 99) * 1e6)


def time_calls(call: Callable[[], object], calls: int = CALLS) -> tuple[float, float]:
    for _ in range(WARMUP):
        call()
    times = np.empty(calls)
    for index in range(calls):
        started = time.perf_counter()
        call()
        times[index] = time.perf_counter() - started
    return _median_p99_us(times)


def bare_runner_us(style: Style, block: int) -> tuple[float, float]:
    runner = StyleRunner(style, max_frames=max(block, 4096))
    frames = round_up(block, style.manifest.block_multiple)
    runner.input_view(frames)[...] = np.random.default_rng(0).uniform(-0.3, 0.3, (runner.channels, frames))
    return time_calls(lambda: runner.run(frames))


def engine_us(style: Style | RackSpec, block: int, mode: str) -> dict:
    engine = Engine(EngineConfig(sample_rate=RATE, block_frames=block, mode=mode, margin_blocks=1))
    engine.load(style)
    engine.start()
    signal = np.random.default_rng(1).uniform(-0.3, 0.3, (block, 1)).astype(np.float32)
    out = np.zeros_like(signal)
    times = np.empty(CALLS)
    for index in range(WARMUP + CALLS):
        started = time.perf_counter()
        engine.process(signal, out)
        elapsed = time.perf_counter() - started
        if engine.worker is not None:  # real-time pacing: the worker runs undisturbed, as live
            time.sleep(block / RATE)
        if index >= WARMUP:
            times[index - WARMUP] = elapsed
    worker_median, worker_p99 = engine.stats.style_time_us() if engine.worker else (0.0, 0.0)
    engine.stop()
    median, p99 = _median_p99_us(times)
    block_us = 1e6 * block / RATE
    return {
        "callback_median_us": median, "callback_p99_us": p99, "worker_median_us": worker_median,
        "worker_p99_us": worker_p99, "real_time_factor": (median + worker_median) / block_us,
        "latency": engine.latency.as_dict(),
    }


def identity_style(folder: Path) -> Path:
    path = folder / "bench-identity.onnx"
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, "frames"]) for n in ("audio_in", "audio_out")]
    graph = helper.make_graph([helper.make_node("Identity", ["audio_in"], ["audio_out"])], "identity", [info[0]], [info[1]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    manifest = {"schema": 1, "name": path.stem, "description": "", "category": "bench", "sample_rate": RATE,
                "channels": 1, "block_multiple": 1, "latency_samples": 0, "params": [], "provenance": {}}
    helper.set_model_props(model, {"stylerack": json.dumps(manifest)})
    onnx.save(model, str(path))
    return path


def chain_us(styles: Sequence[Style], block: int) -> tuple[float, float]:
    """One ``Chain.run`` of ``styles`` in series (each slot: feed, style, aligned mix, meter)."""
    chain, frames, _ = build_chain(RackSpec([SlotSpec(s) for s in styles]), block_frames=block)
    chain.input_view(frames)[...] = np.random.default_rng(0).uniform(-0.3, 0.3, (chain.channels, frames))
    return time_calls(lambda: chain.run(frames))


def rack_bench(styles: Sequence[Style], identity: Style, block: int = 128) -> dict:
    """Each slot's overhead beyond its bare style call, and a rack of (up to) four effect styles."""
    effects = [s for s in styles if s.manifest.category not in NON_EFFECT_CATEGORIES][:4]
    overhead = {}
    for style in [identity, *effects]:
        overhead[style.name] = chain_us([style], block)[0] - bare_runner_us(style, block)[0]
    eight = chain_us([identity] * 8, block)[0] - 8 * bare_runner_us(identity, block)[0]
    result = {"block": block, "slot_overhead_us": overhead, "identity_slot_overhead_us_of_8": eight / 8}
    if effects:
        rack = RackSpec([SlotSpec(s) for s in effects])
        median, p99 = chain_us(effects, block)
        bare = sum(bare_runner_us(s, block)[0] for s in effects)
        result.update({
            "styles": [s.name for s in effects], "chain_median_us": median, "chain_p99_us": p99, "bare_styles_us": bare,
            "direct": engine_us(rack, block, "direct"), "buffered": engine_us(rack, block, "buffered"),
        })
    return result


def resampling_bench(block: int = 128) -> list[dict]:
    """Per resampler, 48 kHz device and a 44.1 kHz style: the latency it adds (round trip and
    buffering, through the engine's own accounting), its cost per device block (down and
    up, one channel), and its quality (realtime.offline.resample_quality)."""
    from realtime.engine.resample import resampler_pair
    from realtime.engine.wetpath import replay_priming_frames
    from realtime.offline import resample_quality

    rows = []
    style_block = -(-block * 44100 // RATE)
    for kind in ("low-latency", "soxr-hq", "soxr-lq"):
        down, up, round_trip = resampler_pair(kind, RATE, 44100, 1, 8192, 8192)
        added = round_trip + replay_priming_frames(RATE, 44100, 1, block, kind)
        signal = np.random.default_rng(2).uniform(-0.3, 0.3, (1, block)).astype(np.float32)
        wet = np.random.default_rng(3).uniform(-0.3, 0.3, (1, style_block)).astype(np.float32)
        median, p99 = time_calls(lambda: (down.process(signal), up.process(wet)))
        quality = resample_quality.measure(kind)
        rows.append({"resampler": kind, "block": block, "added_latency_samples": added,
                     "added_latency_ms": 1000 * added / RATE, "cost_median_us": median, "cost_p99_us": p99,
                     **{k: v for k, v in quality.as_dict().items() if k != "resampler"}})
    return rows


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines() if Path("/proc/self/status").exists() else []:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _plugins() -> list:
    found = []
    for entry in entry_points(group="stylerack.bench_references"):
        try:
            found.append(entry.load()())
        except Exception as exc:  # torch missing or broken: the bench goes on without it
            print(f"bench: reference '{entry.name}' unavailable: {exc}", file=sys.stderr)
    return found


def run_bench(styles: Sequence[Style], blocks: Sequence[int] = BLOCKS, progress=None, scaling: bool = True,
              rack_only: bool = False) -> dict:
    results: dict = {"sample_rate": RATE, "blocks": list(blocks), "styles": [], "scaling": []}
    before = resident_mb()  # measured before the reference plug-ins import torch
    runners = [StyleRunner(s, max_frames=4096) for s in styles]
    results["memory"] = {"styles_loaded": len(runners), "resident_mb": resident_mb(), "added_by_styles_mb": resident_mb() - before}
    del runners
    plugins = _plugins()
    steps = (0 if rack_only else len(styles) * len(blocks)) + 3
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps, what)

    with tempfile.TemporaryDirectory() as folder:
        identity = load_style(identity_style(Path(folder)))
        bare = bare_runner_us(identity, 128)[0]
        host = engine_us(identity, 128, "direct")["callback_median_us"]
        results["host_overhead"] = {
            "block": 128, "bare_onnxruntime_us": bare, "engine_direct_us": host,
            "overhead_us": host - bare, "overhead_percent_of_core": 100 * (host - bare) / (1e6 * 128 / RATE),
        }
        tick("host overhead")
        results["rack"] = rack_bench(styles, identity)
        tick("rack")
        results["resampling"] = resampling_bench()
        tick("resampling")
        for style in [] if rack_only else styles:
            references = [r for plugin in plugins for r in plugin.references(style)]
            row = {"style": style.name, "path": str(style.path), "latency_samples": style.manifest.latency_samples, "blocks": {}}
            for block in blocks:
                cell = {"onnxruntime_median_us": bare_runner_us(style, block)[0]}
                cell.update({f"direct_{k}": v for k, v in engine_us(style, block, "direct").items()})
                cell.update({f"buffered_{k}": v for k, v in engine_us(style, block, "buffered").items()})
                for reference in references:
                    cell[f"{reference.name}_median_us"] = time_calls(reference.make(block), calls=100)[0]
                    cell[f"onnxruntime_speedup_vs_{reference.name}"] = cell[f"{reference.name}_median_us"] / cell["onnxruntime_median_us"]
                row["blocks"][str(block)] = cell
                tick(f"{style.name} @ {block}")
            results["styles"].append(row)
        for plugin in plugins if scaling and not rack_only else []:
            for name, path, weights in plugin.architectures(Path(folder)):
                arch_style = load_style(path)
                results["scaling"].append({"architecture": name, "weights": weights, "onnxruntime_median_us_128": bare_runner_us(arch_style, 128)[0]})
    return results


def table(results: dict, markdown: bool = False) -> str:
    lines = []
    o = results["host_overhead"]
    lines.append(
        f"Host overhead at 128 frames: engine {o['engine_direct_us']:.1f} us vs bare ONNX Runtime {o['bare_onnxruntime_us']:.1f} us "
        f"= {o['overhead_us']:.1f} us ({o['overhead_percent_of_core']:.2f}% of one core)."
    )
    r = results.get("rack")
    if r:
        slots = ", ".join(f"{name} {us:.1f}" for name, us in r["slot_overhead_us"].items())
        lines.append(f"Rack, per slot beyond its bare style call at {r['block']} frames (us): {slots}; "
                     f"8 identity slots: {r['identity_slot_overhead_us_of_8']:.1f} each.")
        if "styles" in r:
            d, b = r["direct"], r["buffered"]
            lines.append(
                f"Rack of {len(r['styles'])} ({' > '.join(r['styles'])}) at {r['block']} frames: chain {r['chain_median_us']:.0f} us "
                f"median / {r['chain_p99_us']:.0f} p99 (bare styles {r['bare_styles_us']:.0f}); direct RTF "
                f"{d['real_time_factor']:.3f}, buffered RTF {b['real_time_factor']:.3f} "
                f"(callback {b['callback_median_us']:.1f} + worker {b['worker_median_us']:.0f} us, p99 {b['worker_p99_us']:.0f})."
            )
    if results.get("resampling"):
        lines.append("")
        rows = [["resampler (48 <-> 44.1 kHz)", "added latency", "cost per 128-frame block, down+up", "passband ripple to 18 kHz",
                 "aliasing", "images and noise", "1 kHz round-trip THD+N"]]
        for q in results["resampling"]:
            rows.append([q["resampler"], f"{q['added_latency_samples']} smp ({q['added_latency_ms']:.2f} ms)",
                         f"{q['cost_median_us']:.1f} us (p99 {q['cost_p99_us']:.1f})", f"{q['passband_ripple_db']:.4f} dB",
                         f"{q['aliasing_db']:.0f} dB", f"{q['spurious_db']:.0f} dB", f"{q['round_trip_thdn_db']:.0f} dB"])
        lines += _format(rows, markdown)
        lines.append("")
    m = results["memory"]
    lines.append(f"Resident memory with {m['styles_loaded']} styles loaded: {m['resident_mb']:.0f} MB ({m['added_by_styles_mb']:.1f} MB for the styles).")
    lines.append("")
    refs = sorted({k[: -len("_median_us")] for r in results["styles"] for c in r["blocks"].values() for k in c
                   if k.endswith("_median_us") and not k.startswith(("onnxruntime", "direct", "buffered"))})
    header = ["style", "block", "ORT us", "direct us (RTF)", "buffered cb+worker us (RTF)"] + [f"{r} us (ORT x faster)" for r in refs] + ["latency direct/buffered"]
    rows = [header]
    for r in results["styles"]:
        for block, c in r["blocks"].items():
            cells = [r["style"], block, f"{c['onnxruntime_median_us']:.1f}",
                     f"{c['direct_callback_median_us']:.1f} ({c['direct_real_time_factor']:.3f})",
                     f"{c['buffered_callback_median_us']:.1f}+{c['buffered_worker_median_us']:.1f} ({c['buffered_real_time_factor']:.3f})"]
            cells += [f"{c[f'{ref}_median_us']:.0f} ({c[f'onnxruntime_speedup_vs_{ref}']:.1f}x)" if f"{ref}_median_us" in c else "-" for ref in refs]
            cells.append(f"{c['direct_latency']['algorithmic_latency_samples']}/{c['buffered_latency']['algorithmic_latency_samples']} smp")
            rows.append(cells)
    if len(rows) > 1:
        lines += _format(rows, markdown)
    if results["scaling"]:
        lines.append("")
        lines += _format([["architecture", "weights", "ORT us per 128 frames"]] +
                         [[s["architecture"], str(s["weights"]), f"{s['onnxruntime_median_us_128']:.1f}"] for s in results["scaling"]], markdown)
    return "\n".join(lines)


def _format(rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return out + ["| " + " | ".join(r) + " |" for r in rows[1:]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
