"""Benchmarks (``make bench``): figures printed beside a floor measured in the same run."""
