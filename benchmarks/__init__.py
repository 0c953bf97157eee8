"""Benchmarks: speed and throughput targets are measured here, never asserted in tests.

Run them all with ``make bench`` (``python -m benchmarks``), or one with
``python -m benchmarks NAME``.
"""
