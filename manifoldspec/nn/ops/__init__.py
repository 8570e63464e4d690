"""Functional torch ops: each fast form sits beside its plain reference (see tests/test_nn_*.py)."""
