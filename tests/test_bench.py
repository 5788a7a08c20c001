"""`stylerack bench` runs on a tiny style and its JSON has every field with sane values
(speed targets are reported by the command, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_json_has_every_field(styles_dir, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "realtime.cli", "bench", "--style", str(styles_dir / "delay5.onnx"), "--blocks", "64", "128",
         "--json", str(out), "--skip-scaling"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Host overhead at 128 frames" in result.stdout and "bench [" in result.stderr  # table and progress
    data = json.loads(out.read_text())
    overhead = data["host_overhead"]
    assert 0 < overhead["bare_onnxruntime_us"] < overhead["engine_direct_us"]
    assert data["memory"]["styles_loaded"] == 1 and data["memory"]["resident_mb"] > 10
    rack = data["rack"]
    assert set(rack["slot_overhead_us"]) == {"bench-identity", "delay5"} and rack["styles"] == ["delay5"]
    assert rack["chain_p99_us"] >= rack["chain_median_us"] > 0 and 0 < rack["buffered"]["real_time_factor"] < 1
    assert "Rack, per slot beyond its bare style call" in result.stdout
    (row,) = data["styles"]
    assert row["style"] == "delay5" and set(row["blocks"]) == {"64", "128"}
    for block, cell in row["blocks"].items():
        for key in ("onnxruntime_median_us", "direct_callback_median_us", "direct_callback_p99_us",
                    "buffered_callback_median_us", "buffered_worker_median_us"):
            assert cell[key] > 0, key
        assert cell["direct_callback_p99_us"] >= cell["direct_callback_median_us"]
        assert 0 < cell["direct_real_time_factor"] < 1
        assert cell["direct_latency"]["algorithmic_latency_samples"] == 5
        assert cell["buffered_latency"]["algorithmic_latency_samples"] == 5 + int(block)
