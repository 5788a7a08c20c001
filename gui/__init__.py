"""The PyQt6 window (uses realtime/ only)."""
