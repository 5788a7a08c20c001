"""Work on files and measurements, no device: render, validate, the benchmark."""
