"""Helpers the benchmarks share (a package, so ``make bench`` does not run them as scripts).

``common``: the production server on a free port, a signed-in standard-library client,
latency sampling, server CPU time and the figures table. ``seed``: the large data set.
"""
