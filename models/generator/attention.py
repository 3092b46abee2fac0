"""SSM-as-attention (SING): attention weights over earlier bars, taken from the template row.

The weights depend on the template only, never on the music, so they are computed once per
template in numpy and shared by training (teacher forcing) and by generation. A step at position
``p`` of bar ``i`` attends to the steps at position ``p`` of earlier bars ``j < i``, with weights
``sparsemax(beta * T[i, :i] ++ [beta * null_score])``. The extra "null" slot takes the weight when no
earlier bar is similar enough, so new material is not forced to copy dissimilar bars.
"""

from __future__ import annotations

import numpy as np


def sparsemax(z: np.ndarray) -> np.ndarray:
    """Sparsemax (Martins and Astudillo, 2016) of a 1-D score vector: a sparse probability vector."""
    z = np.asarray(z, dtype=np.float64)
    zs = np.sort(z)[::-1]
    cs = np.cumsum(zs)
    k = np.arange(1, z.shape[0] + 1)
    support = 1.0 + k * zs > cs
    kz = int(k[support][-1])
    tau = (cs[kz - 1] - 1.0) / kz
    return np.asarray(np.maximum(z - tau, 0.0))


def bar_attention(template: np.ndarray, beta: float, null_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar attention: ``W`` (bars, bars), strictly lower triangular, and the null weight (bars,).

    Row ``i`` of ``W`` plus ``null[i]`` sums to one.
    """
    n = template.shape[0]
    w = np.zeros((n, n), np.float32)
    null = np.ones(n, np.float32)
    for i in range(1, n):
        scores = np.concatenate([template[i, :i], [null_score]]) * beta
        p = sparsemax(scores)
        w[i, :i] = p[:i]
        null[i] = p[i]
    return w, null
