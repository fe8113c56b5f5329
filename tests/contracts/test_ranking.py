"""One ranking rule for a run, its exports and the server: most probable first, ties by class index."""

from __future__ import annotations

import numpy as np

from cnnbuild.contracts.ranking import top_classes


def test_tied_classes_rank_by_class_index_whatever_the_row_type() -> None:
    # The run ranked with np.argsort's default (unstable) sort: on this row of 17 classes it listed
    # class 14 second, while the export and the server, sorting stably, listed class 9.
    row = [0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.2, 0.3, 0.2, 0.2, 0.3, 0.3, 0.2]
    expected = [0, 9, 11, 14, 15, 1, 2, 10, 12, 13, 16, 3, 4, 5, 6, 7, 8]
    assert top_classes(row, 17) == expected
    assert top_classes(np.asarray(row, dtype="float32"), 5) == expected[:5]
    assert top_classes(np.asarray(row, dtype="float64"), 17) == expected


def test_k_is_clipped_to_one_and_to_the_class_count_and_nan_ranks_last() -> None:
    assert top_classes([0.2, 0.8], 0) == [1]
    assert top_classes([0.2, 0.8], 9) == [1, 0]
    assert top_classes([float("nan"), 0.1, 0.9], 3) == [2, 1, 0]
