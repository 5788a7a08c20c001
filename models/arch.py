"""Style architectures, each in several sizes, all with zero algorithmic latency: a recurrent
one (GRU, like Neural Amp Modeler's LSTM), a dilated causal convolution one (like its
WaveNet), and a Wiener-Hammerstein one (FIR filter, per-sample shaper, FIR filter).

Every model takes ``audio: [batch, 1, frames]`` and knob values ``params: [batch, P]``
(P may be 0), has ``forward`` for training and ``step(audio, params, *state)`` for
streaming, and ``initial_state(batch)``. ``build(arch_name, num_params)`` makes one by name.
"""

from __future__ import annotations

import torch
from torch import nn

from models.layers import CausalConv1d, StreamingGRU


def _with_params(audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """[B, 1, T] and [B, P] -> [B, 1 + P, T] (knobs held constant over the block)."""
    if params.shape[1] == 0:
        return audio
    return torch.cat([audio, params[:, :, None].expand(-1, -1, audio.shape[2])], dim=1)


class GRUStyle(nn.Module):
    """GRU over (audio, knobs), a linear read-out, plus the dry input (skip)."""

    def __init__(self, hidden: int, num_params: int = 0) -> None:
        super().__init__()
        self.config = {"hidden": hidden}
        self.num_params = num_params
        self.rnn = StreamingGRU(1 + num_params, hidden)
        self.head = nn.Conv1d(hidden, 1, 1)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [self.rnn.initial_state(batch)]

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(_with_params(audio, params))) + audio

    def step(self, audio: torch.Tensor, params: torch.Tensor, hidden: torch.Tensor):
        features, hidden = self.rnn.step(_with_params(audio, params), hidden)
        return self.head(features) + audio, hidden


class ConvStyle(nn.Module):
    """A stack of dilated causal convolutions with tanh, residual and skip sums (WaveNet-like)."""

    def __init__(self, channels: int, dilations: list[int], kernel_size: int = 3, num_params: int = 0) -> None:
        super().__init__()
        self.config = {"channels": channels, "dilations": list(dilations), "kernel_size": kernel_size}
        self.num_params = num_params
        self.inlet = nn.Conv1d(1 + num_params, channels, 1)
        self.convs = nn.ModuleList(CausalConv1d(channels, channels, kernel_size, d) for d in dilations)
        self.mixers = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.head = nn.Conv1d(channels, 1, 1)
        self.dry = nn.Parameter(torch.zeros(1))

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [conv.initial_state(batch) for conv in self.convs]

    def _run(self, audio, params, states):
        h = self.inlet(_with_params(audio, params))
        skip = torch.zeros_like(h)
        new_states = []
        for index, (conv, mixer) in enumerate(zip(self.convs, self.mixers)):
            if states is None:
                z = torch.tanh(conv(h))
            else:
                z, state = conv.step(h, states[index])
                z = torch.tanh(z)
                new_states.append(state)
            h = h + mixer(z)
            skip = skip + z
        return self.head(skip) + self.dry * audio, new_states

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self._run(audio, params, None)[0]

    def step(self, audio: torch.Tensor, params: torch.Tensor, *states: torch.Tensor):
        out, new_states = self._run(audio, params, list(states))
        return (out, *new_states)


class WienerHammersteinStyle(nn.Module):
    """Filter -> static nonlinearity -> filter: long causal FIR filters around a small
    per-sample network that also takes the knobs. The classic model of a pedal or amp
    stage (tone stack, clipping, tone stack); few weights, fast to train and to run."""

    def __init__(self, taps: int, hidden: int, num_params: int = 0) -> None:
        super().__init__()
        self.config = {"taps": taps, "hidden": hidden}
        self.num_params = num_params
        self.pre = CausalConv1d(1, 1, taps)
        self.post = CausalConv1d(1, 1, taps)
        for fir in (self.pre, self.post):  # start as a pass-through: the newest tap is 1
            nn.init.zeros_(fir.conv.weight)
            nn.init.zeros_(fir.conv.bias)
            with torch.no_grad():
                fir.conv.weight[0, 0, -1] = 1.0
        self.shaper = nn.Sequential(
            nn.Conv1d(1 + num_params, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, 1, 1)
        )

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [self.pre.initial_state(batch), self.post.initial_state(batch)]

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.post(self.shaper(_with_params(self.pre(audio), params)))

    def step(self, audio: torch.Tensor, params: torch.Tensor, pre_state: torch.Tensor, post_state: torch.Tensor):
        shaped, pre_state = self.pre.step(audio, pre_state)
        out, post_state = self.post.step(self.shaper(_with_params(shaped, params)), post_state)
        return out, pre_state, post_state


ARCHITECTURES = {
    "gru-8": lambda p: GRUStyle(8, p),
    "gru-16": lambda p: GRUStyle(16, p),
    "gru-24": lambda p: GRUStyle(24, p),
    "conv-8": lambda p: ConvStyle(8, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 3, p),
    "conv-12": lambda p: ConvStyle(12, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 3, p),
    "wh-512": lambda p: WienerHammersteinStyle(512, 16, p),
    "wh-1024": lambda p: WienerHammersteinStyle(1024, 24, p),
}


def build(arch: str, num_params: int = 0) -> nn.Module:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}' (choose from: {', '.join(ARCHITECTURES)})")
    model = ARCHITECTURES[arch](num_params)
    model.arch = arch
    return model


def stream(model: nn.Module, audio: torch.Tensor, params: torch.Tensor, block: int) -> torch.Tensor:
    """Run ``model.step`` over ``audio: [B, 1, T]`` in blocks of ``block`` from zero state."""
    states = model.initial_state(audio.shape[0])
    outputs = []
    for start in range(0, audio.shape[2], block):
        out, *states = model.step(audio[:, :, start : start + block], params, *states)
        outputs.append(out)
    return torch.cat(outputs, dim=2)
