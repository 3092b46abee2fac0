from __future__ import annotations

import numpy as np

from models.generator.attention import bar_attention, sparsemax
from models.generator.codec import STEPS_PER_BAR
from models.generator.dataset import context
from models.structure import template_from_structure


def test_sparsemax_is_sparse_distribution() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        z = rng.normal(size=rng.integers(1, 12)) * 3
        p = sparsemax(z)
        assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-9
        assert p[np.argmax(z)] > 0
    assert np.allclose(sparsemax(np.array([4.0, 2.0, 0.0])), [1.0, 0.0, 0.0])
    assert np.allclose(sparsemax(np.array([1.0, 1.0])), [0.5, 0.5])


def test_bar_attention_copies_repeats_and_uses_null_for_new_material() -> None:
    t = template_from_structure("A2B2A2")
    w, null = bar_attention(t, beta=4.0, null_score=0.5)
    assert w.shape == (6, 6) and np.allclose(np.triu(w), 0)
    assert np.allclose(w.sum(axis=1) + null, 1)
    assert w[4, 0] == 1 and w[5, 1] == 1  # second A copies the first
    assert null[2] == 1 and null[3] == 1  # B is new: attend to nothing


def test_bar_attention_partial_similarity_mixes() -> None:
    t = np.eye(3, dtype=np.float32)
    t[2, 0] = t[0, 2] = 0.62
    w, null = bar_attention(t, 4.0, 0.5)
    assert 0 < w[2, 0] < 1 and 0 < null[2] < 1


def test_step_context_takes_same_position_of_attended_bars() -> None:
    bars, F = 3, 5
    frames = np.arange(bars * STEPS_PER_BAR * F, dtype=np.float32).reshape(bars * STEPS_PER_BAR, F)
    w = np.zeros((3, 3), np.float32)
    w[2, 0] = 1.0
    ctx = context(w, frames, 0, bars)
    assert np.array_equal(ctx[2 * STEPS_PER_BAR + 5], frames[5])
    assert np.all(ctx[: STEPS_PER_BAR * 2] == 0)
