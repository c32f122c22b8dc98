"""The project's own test and benchmark trees: a home-folder generator, a mutator and a tree comparer.

Everything here is deterministic from a seed, so a test that fails on one machine fails the same way
on another, and a benchmark measures the same bytes on every run. Nothing here reads or runs
anything outside the project.
"""

from bench.datasets.generate import generate
from bench.datasets.mutate import mutate
from bench.datasets.treecompare import assert_same_tree, compare, differences

__all__ = ["assert_same_tree", "compare", "differences", "generate", "mutate"]
