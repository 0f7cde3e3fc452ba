"""Classifying whole series without training a network: the 1-nearest-neighbour baselines (Euclidean distance
and dynamic time warping, neighbours.py) and the UCR/UEA data sets that ship inside the `aeon` package
(archive.py), which the classification benchmark (benchmarks/bench_classify.py) runs them on."""

from .archive import ARCHIVE_SETS, load_archive
from .neighbours import METRICS, dtw_distance, nearest_neighbour_predict, nearest_neighbours, resample

__all__ = ["ARCHIVE_SETS", "METRICS", "dtw_distance", "load_archive", "nearest_neighbour_predict", "nearest_neighbours",
           "resample"]
