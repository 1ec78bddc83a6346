"""Chapter 01's hidden cases: other shapes and seeds than the notebook's public cases."""
import numpy as np

from ..engine import Case
from ..exercises.ch01 import _no_row_loop, count_row_reads, images, labels

HIDDEN = {
    "01.to_vectors": [
        Case("eleven random images", lambda rng: (images(rng, 11),)),
    ],
    "01.one_hot": [
        Case("twenty labels, num_classes=13", lambda rng: (labels(rng, 20, k=13), 13)),
    ],
    "01.class_means": [
        Case("three classes of 7 features, uneven sizes",
             lambda rng: (rng.random((8, 7)), np.array([2, 0, 1, 1, 0, 2, 2, 2], dtype=np.uint8), 3)),
    ],
    "01.pairwise_sq_distances": [
        Case("7 points against 2, in 5-D", lambda rng: (rng.normal(size=(7, 5)), rng.normal(size=(2, 5)))),
        Case("large values, 48 points against themselves in 300-D (never negative)",
             lambda rng: (lambda A: (A, A + 1e-9))(rng.random((48, 300)) * 1000.0)),
        Case("150 vectors against 4, without a loop over rows",
             lambda rng: (rng.random((150, 30)), rng.random((4, 30))), run=count_row_reads, compare=_no_row_loop),
    ],
    "01.nearest_centroid_predict": [
        Case("nine points, four centroids in 3-D", lambda rng: (rng.normal(size=(9, 3)), rng.normal(size=(4, 3)))),
    ],
}
