"""Streaming layers whose state is explicit: what goes in comes out, nothing is hidden.

Each layer has ``forward(x)`` for training on whole signals (state starts at zeros) and
``step(x, state) -> (y, state)`` for streaming, and ``step`` over consecutive blocks equals
``forward`` on the concatenation. Shapes: ``x: [batch, channels, frames]``.
"""

from __future__ import annotations

import torch
from torch import nn


class CausalConv1d(nn.Module):
    """A dilated convolution that only looks back; its state is the last
    ``(kernel_size - 1) * dilation`` input frames, ``[batch, in_channels, history]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__()
        self.history = (kernel_size - 1) * dilation
        self.in_channels = in_channels
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.in_channels, self.history)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.pad(x, (self.history, 0)))

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        joined = torch.cat([state, x], dim=2)
        return self.conv(joined), joined[:, :, joined.shape[2] - self.history :]


class StreamingGRU(nn.Module):
    """A GRU over time whose hidden state ``[layers, batch, hidden]`` is passed in and out."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True)

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(self.num_layers, batch, self.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, features, frames] -> [batch, hidden, frames]"""
        y, _ = self.gru(x.transpose(1, 2))
        return y.transpose(1, 2)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = self.gru(x.transpose(1, 2), state)
        return y.transpose(1, 2), state
