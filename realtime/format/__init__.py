"""The style format: ONNX files with a manifest (``style``, ``manifest``) and where styles are
found (``catalog``). No audio runs here."""
