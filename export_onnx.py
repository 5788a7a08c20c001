"""Export trained checkpoints to StyleRack styles, verified before anything is written.

    python export_onnx.py CHECKPOINT.pt OUT.onnx [--overwrite]
    python export_onnx.py --all        # every shipped style, from models/checkpoints/*.pt

Each export checks PyTorch against ONNX Runtime on the same input, streamed ONNX in blocks
of 1, 64, 441 and 4096 against one call, and `stylerack validate`; a style that fails is
not written (see models/export.py). Exit 2 on a user mistake, 1 on a failed check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "models" / "checkpoints"
SHIPPED = ROOT / "realtime" / "styles"


def export_one(checkpoint: Path, out: Path, overwrite: bool) -> int:
    from models.export import ExportError, export_style, load_checkpoint

    if not checkpoint.is_file():
        print(f"export_onnx: error: {checkpoint}: no such checkpoint", file=sys.stderr)
        return 2
    if out.exists() and not overwrite:
        print(f"export_onnx: error: {out}: already exists (use --overwrite)", file=sys.stderr)
        return 2
    model, manifest = load_checkpoint(checkpoint)
    try:
        report = export_style(model, manifest, out)
    except ExportError as exc:
        print(f"export_onnx: FAILED: {exc}", file=sys.stderr)
        return 1
    print(
        f"{out}: torch vs onnx {report.torch_vs_onnx_max_abs:.1e}, streamed vs one call "
        f"{report.stream_vs_call_max_abs:.1e}, {report.size_bytes} bytes, "
        f"{report.cost_us_per_block:.1f} us per 128 frames ({report.real_time_factor:.4f} of real time)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", type=Path)
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--all", action="store_true", help="rebuild every shipped style from its checkpoint")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.all:
        checkpoints = sorted(CHECKPOINTS.glob("*.pt"))
        if not checkpoints:
            print(f"export_onnx: error: no checkpoints in {CHECKPOINTS}", file=sys.stderr)
            return 2
        codes = [export_one(c, SHIPPED / f"{c.stem}.onnx", overwrite=True) for c in checkpoints]
        return max(codes)
    if not (args.checkpoint and args.out):
        parser.print_usage(sys.stderr)
        print("export_onnx: error: give CHECKPOINT.pt OUT.onnx, or --all", file=sys.stderr)
        return 2
    return export_one(args.checkpoint, args.out, args.overwrite)


if __name__ == "__main__":
    sys.exit(main())
