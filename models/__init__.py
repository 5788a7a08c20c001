"""PyTorch streaming models, capture training and export (see the styles issue)."""
