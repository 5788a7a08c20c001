import numpy as np
import pytest

from realtime.engine.ring import AudioFifo


def test_fifo_keeps_order_across_wraps():
    fifo = AudioFifo(2, 10)
    source = np.arange(200, dtype=np.float32).reshape(2, 100)
    got = []
    position = 0
    for size in (3, 7, 1, 9, 4, 6, 10, 2, 8, 5) * 2:
        size = min(size, 100 - position)
        if size == 0:
            break
        fifo.write(source[:, position : position + size])
        position += size
        out = np.zeros((2, size), np.float32)
        fifo.read_into(out)
        got.append(out)
    assert np.array_equal(np.concatenate(got, axis=1), source[:, :position])


def test_fifo_refuses_overflow_and_underflow():
    fifo = AudioFifo(1, 4)
    fifo.write(np.ones((1, 3), np.float32))
    with pytest.raises(OverflowError):
        fifo.write(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError):
        fifo.read_into(np.zeros((1, 4), np.float32))
    assert fifo.skip(10) == 3 and fifo.available() == 0

