"""Chapter 01, MNIST as numbers: the checks, and the mistakes they recognise by name.

Inputs are random but seeded, small enough to run in milliseconds, and include the edge
cases a learner's code meets on real data: a batch of one, uint8 pixels and labels as
`load_mnist` returns them, and large values where floating-point cancellation bites.
"""
import numpy as np

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement


def images(rng, n):
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def labels(rng, n, k=10):
    return rng.integers(0, k, size=n).astype(np.uint8)  # load_mnist gives uint8 labels


def integers(got, expected, args):
    """Integer labels: the values must match; any integer dtype is fine."""
    if isinstance(got, np.ndarray) and got.dtype.kind not in "iu":
        return Fail(f"expected integer class labels, got an array of dtype {got.dtype} "
                    "(np.argmin returns integers; did you return distances instead?)")
    return compare_values(got, expected, check_dtype=False)


# ---------------------------------------------------------------- to_vectors

to_vectors = Exercise(
    id="01.to_vectors", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("three random images", lambda rng: (images(rng, 3),)),
        Case("a batch of one", lambda rng: (images(rng, 1),)),
        Case("black and white pixels (0 and 255)",
             lambda rng: (np.where(rng.random((4, 28, 28)) < 0.5, 0, 255).astype(np.uint8),)),
    ],
    # x/255 and x*(1/255) may differ in the last bit; anything closer than that is right.
    compare=close(rtol=1e-12, atol=0),
    mistakes=[
        Mistake("forgot to divide by 255",
                "pixels are 0..255 but the network wants 0..1: divide by 255.0.",
                lambda im: im.reshape(len(im), -1).astype(np.float64)),
        Mistake("integer division",
                "`images // 255` rounds every pixel down to 0 or 1; use true division `/ 255.0`.",
                lambda im: im.reshape(len(im), -1) // 255),
        Mistake("Fortran-order reshape",
                "reshape with order='F' reads the image column by column: the digit comes out "
                "transposed. Use the default C order: images.reshape(len(images), -1).",
                lambda im: im.reshape(len(im), -1, order="F").astype(np.float64) / 255.0),
        Mistake("flattened the whole batch",
                "`images.flatten()` makes one long vector of all images; keep one row per image: "
                "images.reshape(len(images), 784).",
                lambda im: im.flatten().astype(np.float64) / 255.0),
    ],
    requirements=[
        Requirement("Write `to_vectors(images)`: `(N, 28, 28)` `uint8` → `(N, 784)` `float64`",
                    "three random images", "a batch of one"),
        Requirement("with values in [0, 1]", "black and white pixels (0 and 255)", "three random images"),
        Requirement("We unroll each 28×28 image row by row into 784 numbers", "three random images"),
        Requirement("`reshape` reads in C order (row by row) by default — keep it", "three random images"),
        Requirement("divide with `/`, not `//`", "three random images"),
        Requirement("the result must be `float64`", "three random images"),
        Requirement("(N, 28, 28) uint8 images", "pure"),
    ],
)

# ---------------------------------------------------------------- one_hot

one_hot = Exercise(
    id="01.one_hot", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("seven labels", lambda rng: (labels(rng, 7),)),
        Case("a batch of one", lambda rng: (labels(rng, 1),)),
        Case("num_classes=5", lambda rng: (labels(rng, 6, k=5), 5)),
        Case("every class once", lambda rng: (rng.permutation(10),)),
        Case("labels 0..2 only: still num_classes=10 columns",
             lambda rng: (rng.integers(0, 3, 8).astype(np.uint8),),
             why="the width is num_classes, not the largest label seen plus one"),
    ],
    compare=close(rtol=0, atol=0),  # zeros and ones are exact
    mistakes=[
        Mistake("transposed result",
                "each row should be one example: the shape is (N, num_classes), not (num_classes, N).",
                lambda y, k=10: np.eye(k)[y].T),
        Mistake("wrong dtype",
                "the course's NumPy arrays are float64; an integer one-hot matrix turns later "
                "arithmetic into integer arithmetic. Use np.zeros((N, k)) (float64 by default).",
                lambda y, k=10: np.eye(k, dtype=np.int64)[y]),
        Mistake("ignored num_classes",
                "the number of columns is `num_classes`, not always 10.",
                lambda y, k=10: np.eye(10)[y]),
        Mistake("width from the largest label",
                "labels.max() + 1 is the number of classes only when the largest class is present; "
                "the width is `num_classes` (10 by default) whatever labels you were given.",
                lambda y, k=10: np.eye(int(np.max(y)) + 1)[y]),
    ],
    requirements=[
        Requirement("Write `one_hot(labels, num_classes=10)`: `(N,)` integers → `(N, num_classes)` `float64`, "
                    "one row per label", "seven labels", "a batch of one", "num_classes=5",
                    "labels 0..2 only: still num_classes=10 columns"),
        Requirement("a 1 in position 3 and 0 elsewhere", "every class once", "seven labels"),
        Requirement("(N,) integer labels", "pure"),
    ],
)

# ---------------------------------------------------------------- class_means


def _classes(rng, n_per_class, k=10, d=784):
    y = np.repeat(np.arange(k), n_per_class).astype(np.uint8)
    rng.shuffle(y)
    return rng.random((len(y), d)), y


class_means = Exercise(
    id="01.class_means", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("three examples per class, shuffled", lambda rng: _classes(rng, 3)),
        Case("one example per class", lambda rng: _classes(rng, 1)),
        Case("four classes of 5 features, uneven sizes",
             lambda rng: (rng.random((9, 5)), np.array([0, 1, 1, 2, 3, 3, 3, 0, 2], dtype=np.uint8), 4)),
    ],
    compare=close(rtol=1e-10, atol=1e-12),  # summation order changes the last bits only
    mistakes=[
        Mistake("summed instead of averaged",
                "a mean image divides by the number of examples of that class: use .mean(axis=0).",
                lambda X, y, k=10: np.stack([X[y == c].sum(axis=0) for c in range(k)])),
        Mistake("assumed the labels are sorted",
                "the examples are shuffled: select each class with a boolean mask, X[y == c].",
                lambda X, y, k=10: np.stack([part.mean(axis=0) for part in np.array_split(X, k)])),
        Mistake("averaged the whole dataset",
                "each row must average only the examples of its own class (X[y == c]).",
                lambda X, y, k=10: np.tile(X.mean(axis=0), (k, 1))),
    ],
    requirements=[
        Requirement("The mean of all training vectors of class k is the centroid of that class",
                    "three examples per class, shuffled", "one example per class",
                    "four classes of 5 features, uneven sizes"),
        Requirement("Stacked for k = 0, \\dots, 9 they form a `(10, 784)` matrix", "three examples per class, shuffled"),
        Requirement("Write `class_means(X, y, num_classes=10)`", "four classes of 5 features, uneven sizes"),
        Requirement("The examples are shuffled: select each class with a boolean mask `X[y == k]`",
                    "three examples per class, shuffled", "four classes of 5 features, uneven sizes"),
        Requirement("(N, D) vectors and (N,) labels -> (num_classes, D) mean vector of each class",
                    "four classes of 5 features, uneven sizes", "pure"),
    ],
)

# ---------------------------------------------------------------- pairwise_sq_distances


class RowCounter(np.ndarray):
    """An array that counts how often Python code takes out one row: a loop over rows does
    so n times, vectorised code never. Deterministic, unlike timing."""
    row_reads = 0

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            RowCounter.row_reads += 1
        return super().__getitem__(key)

    def __iter__(self):
        RowCounter.row_reads += len(self)
        return super().__iter__()


def count_row_reads(fn, args):
    RowCounter.row_reads = 0
    out = fn(*(a.view(RowCounter) for a in args))
    return out, RowCounter.row_reads


def _distances_close(got, expected, args):
    """Tolerance scaled by the squared norms: |a|^2 - 2a.b + |b|^2 loses digits when a is
    close to b, and a correct `((a - b)**2).sum()` does not, so they differ by that much."""
    A, B = args[0], args[1]
    scale = float((A ** 2).sum(axis=1).max() + (B ** 2).sum(axis=1).max())
    fail = compare_values(got, expected, rtol=1e-9, atol=1e-11 * scale + 1e-12)
    if fail:
        return fail
    if (got < 0).any():
        return Fail(f"distances must never be negative, but the smallest is {got.min():.3g}: "
                    "rounding in |a|^2 - 2a.b + |b|^2 can dip below zero",
                    mistake=NEGATIVE_DISTANCES)
    return None


def _no_row_loop(got, expected, args):
    fail = _distances_close(got[0], expected[0], args)
    if fail:
        return fail
    rows = len(args[0])
    if got[1] >= rows // 2:
        return Fail(f"your code took out single rows {got[1]} times for {rows} rows",
                    mistake=A_PYTHON_LOOP_OVER_ROWS)
    return None


def _sq_dist_loop(A, B):
    return np.array([((a - B) ** 2).sum(axis=1) for a in A])


def _near_duplicates(rng):
    # Each of the 64 pairs of a point with itself comes out of the expanded formula negative
    # about half the time, whichever BLAS does the product, so a missing clip is caught on every
    # machine: with 3 pairs it once passed (numpy 1.26, benchmarks/torch_versions.sh).
    A = rng.random((64, 784)) * 1000.0
    return A, A + 1e-9


NEGATIVE_DISTANCES = Mistake("negative distances",
                             "clip tiny negative values from rounding: np.maximum(d, 0).",
                             lambda A, B: (A ** 2).sum(1)[:, None] - 2 * A @ B.T + (B ** 2).sum(1)[None, :])
A_PYTHON_LOOP_OVER_ROWS = Mistake("a Python loop over rows",
                                  "let broadcasting or one matrix product do the work: A @ B.T gives every a.b at "
                                  "once. A loop over rows is ~100x slower on the full dataset.",
                                  _sq_dist_loop)

pairwise_sq_distances = Exercise(
    id="01.pairwise_sq_distances", points=2, difficulty="medium", minutes=20, pure=True,
    compare=_distances_close,
    cases=[
        Case("4 points against 5, in 3-D", lambda rng: (rng.random((4, 3)), rng.random((5, 3)))),
        Case("a batch of one image against ten centroids",
             lambda rng: (rng.random((1, 784)), rng.random((10, 784)))),
        Case("large values, points against themselves (never negative)", _near_duplicates,
             why="catastrophic cancellation makes the expanded formula slightly negative"),
        Case("200 images against 10 centroids, without a loop over rows",
             lambda rng: (rng.random((200, 784)), rng.random((10, 784))),
             run=count_row_reads, compare=_no_row_loop),
    ],
    mistakes=[
        Mistake("forgot the |b|^2 term",
                "|a - b|^2 = |a|^2 - 2 a.b + |b|^2 has three terms; the last one, summed over "
                "the rows of B, is missing.",
                lambda A, B: np.maximum((A ** 2).sum(1)[:, None] - 2 * A @ B.T, 0)),
        Mistake("forgot the factor 2",
                "the cross term is -2 a.b, not -a.b.",
                lambda A, B: np.maximum((A ** 2).sum(1)[:, None] - A @ B.T + (B ** 2).sum(1)[None, :], 0)),
        NEGATIVE_DISTANCES,
        A_PYTHON_LOOP_OVER_ROWS,
    ],
    requirements=[
        Requirement("with A `(n, d)` and B `(m, d)`", "4 points against 5, in 3-D",
                    "a batch of one image against ten centroids"),
        Requirement("(n, d) and (m, d) -> (n, m) squared Euclidean distances", "4 points against 5, in 3-D",
                    "a batch of one image against ten centroids"),
        Requirement("Broadcasting adds `(n, 1)`, `(n, m)` and `(1, m)` into `(n, m)`", "4 points against 5, in 3-D"),
        Requirement("| term | NumPy | shape |", not_checked="the header of a table of hints; the shape it "
                    "leads to, (n, m), is the requirement above"),
        Requirement("a distance is never negative", "large values, points against themselves (never negative)"),
        Requirement("clip it with `np.maximum(D, 0)`", "large values, points against themselves (never negative)"),
        Requirement("with no Python loop over rows", "200 images against 10 centroids, without a loop over rows"),
        Requirement("(n, d) and (m, d)", "pure"),
    ],
)

# ---------------------------------------------------------------- nearest_centroid_predict


def _sq(A, B):
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


nearest_centroid_predict = Exercise(
    id="01.nearest_centroid_predict", points=1, difficulty="easy", minutes=10, pure=True,
    compare=integers,
    cases=[
        Case("six images, ten centroids", lambda rng: (rng.random((6, 784)), rng.random((10, 784)))),
        Case("a batch of one", lambda rng: (rng.random((1, 784)), rng.random((10, 784)))),
        Case("twelve points, three centroids in 2-D", lambda rng: (rng.random((12, 2)), rng.random((3, 2)))),
    ],
    mistakes=[
        Mistake("argmax instead of argmin",
                "the nearest centroid has the *smallest* distance: use argmin.",
                lambda X, C: _sq(X, C).argmax(axis=1)),
        Mistake("argmin over the wrong axis",
                "distances are (N, classes); take the argmin along axis=1 to get one class per image.",
                lambda X, C: _sq(X, C).argmin(axis=0)),
    ],
    requirements=[
        Requirement("Predict, for each image, the class whose centroid is nearest", "six images, ten centroids",
                    "twelve points, three centroids in 2-D"),
        Requirement("Write `nearest_centroid_predict(X, centroids)`: `(N, d)`, `(K, d)` → `(N,)` integer classes",
                    "six images, ten centroids", "a batch of one", "twelve points, three centroids in 2-D"),
        Requirement("Use your `pairwise_sq_distances`", not_checked="advice; any correct way to the nearest "
                    "centroid is right, and the cases check the classes it gives"),
        Requirement("(N, d) vectors, (K, d) centroids", "pure"),
    ],
)

EXERCISES = [to_vectors, one_hot, class_means, pairwise_sq_distances, nearest_centroid_predict]
