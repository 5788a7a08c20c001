"""PyTorch references for ``stylerack bench`` (entry point ``stylerack.bench_references``):
the same model a style was exported from, run the usual way (eager and TorchScript), and
untrained exports of every architecture for the cost-vs-size table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from models.arch import ARCHITECTURES, build
from models.export import _OnnxStep, export_style, load_checkpoint

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


@dataclass(frozen=True)
class Reference:
    name: str
    make: object  # make(block) -> a no-argument callable that processes one block


def _stepper(module, block: int, has_params: bool, states, params):
    audio = torch.zeros(1, block).uniform_(-0.3, 0.3)
    carried = list(states)

    def call() -> None:
        with torch.no_grad():
            args = (audio, params, *carried) if has_params else (audio, *carried)
            out = module(*args)
            carried[:] = out[1:]

    return call


class TorchReferences:
    def __init__(self) -> None:
        torch.set_num_threads(1)

    def references(self, style) -> list[Reference]:
        checkpoint = CHECKPOINTS / f"{style.path.stem}.pt"
        if not checkpoint.is_file():
            return []
        model, manifest = load_checkpoint(checkpoint)
        wrapper = _OnnxStep(model).eval()
        params = torch.tensor([p["default"] for p in manifest["params"]], dtype=torch.float32)
        multiple = manifest["block_multiple"]  # the same frames per call as the bare ONNX Runtime call

        def eager(block: int):
            block += -block % multiple
            return _stepper(wrapper, block, wrapper.has_params, model.initial_state(1), params)

        def script(block: int):
            block += -block % multiple
            example = [torch.zeros(1, block)] + ([params] if wrapper.has_params else []) + model.initial_state(1)
            with torch.no_grad():
                traced = torch.jit.trace(wrapper, tuple(example), check_trace=False)
            return _stepper(traced, block, wrapper.has_params, model.initial_state(1), params)

        return [Reference("pytorch_eager", eager), Reference("torchscript", script)]

    def architectures(self, folder: Path) -> list[tuple[str, Path, int]]:
        rows = []
        for name in ARCHITECTURES:
            torch.manual_seed(0)
            model = build(name)
            manifest = {"schema": 1, "name": name, "description": "untrained", "category": "bench", "sample_rate": 48000,
                        "channels": 1, "block_multiple": 1, "latency_samples": 0, "params": [], "provenance": {}}
            path = Path(folder) / f"arch-{name}.onnx"
            export_style(model, manifest, path)
            rows.append((name, path, sum(p.numel() for p in model.parameters())))
        return rows
