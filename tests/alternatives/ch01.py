import numpy as np


def to_vectors(images):
    # Multiplying by the reciprocal differs from the reference's division in the last bit.
    flat = np.array([im.ravel() for im in images], dtype=np.float64)
    return flat * (1 / 255)


def one_hot(labels, num_classes=10):
    return (np.asarray(labels)[:, None] == np.arange(num_classes)[None, :]).astype(float)


def one_hot_eye(labels, num_classes=10):
    # Rows of the identity: the width is num_classes whatever labels are present.
    return np.eye(num_classes)[labels]


def class_means(X, y, num_classes=10):
    sums = np.zeros((num_classes, X.shape[1]))
    np.add.at(sums, y, X)
    counts = np.bincount(y, minlength=num_classes)[:, None]
    return sums / counts


def pairwise_sq_distances(A, B):
    # Direct differences via broadcasting: exact where the expansion cancels.
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1)


def nearest_centroid_predict(X, centroids):
    d = ((X[:, None, :] - centroids[None]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, 0].astype(np.int32)


ALTERNATIVES = {
    "01.to_vectors": [to_vectors],
    "01.one_hot": [one_hot, one_hot_eye],
    "01.class_means": [class_means],
    "01.pairwise_sq_distances": [pairwise_sq_distances],
    "01.nearest_centroid_predict": [nearest_centroid_predict],
}
