"""Modules of the benchmark runner (../run); see ../README.md."""
