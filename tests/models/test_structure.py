from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UserError
from models.structure import (
    MAX_BARS,
    load_template_file,
    parse_structure,
    preset_names,
    preset_template,
    resample_template,
    resolve_template,
    save_template_file,
    similar_pairs,
    template_from_structure,
    validate_template,
)


def test_parse_structure_sections() -> None:
    secs = parse_structure("i4A8B8A8b4B8o4")
    assert [(s.letter, s.bars) for s in secs] == [("i", 4), ("A", 8), ("B", 8), ("A", 8), ("b", 4), ("B", 8), ("o", 4)]
    assert sum(s.bars for s in secs) == 44


@pytest.mark.parametrize("bad", ["", "A", "8A", "A8B", "A0", "A8-B8", "A8 B8!", "Ä8"])
def test_parse_structure_rejects_malformed(bad: str) -> None:
    with pytest.raises(UserError):
        parse_structure(bad)


def test_parse_structure_bar_limit() -> None:
    with pytest.raises(UserError, match="between 1 and"):
        parse_structure(f"A{MAX_BARS + 1}")


def test_template_from_structure_stripes() -> None:
    t = template_from_structure("A2B2A2x2")
    assert t.shape == (8, 8)
    assert np.allclose(t, t.T) and np.all(np.diag(t) == 1)
    # bar 4 repeats bar 0, bar 5 repeats bar 1; nothing else (x is unique, B only once)
    expected = {(0, 4), (1, 5)}
    for i in range(8):
        for j in range(i + 1, 8):
            assert t[i, j] == (1.0 if (i, j) in expected else 0.0)


def test_same_letter_different_case_not_similar() -> None:
    sim = similar_pairs(parse_structure("A2a2"))
    assert not sim.any()


def test_presets_are_valid_templates() -> None:
    names = preset_names()
    for required in ("aaba", "abab", "verse-chorus", "rondo", "theme-variations"):
        assert required in names
    for n in names:
        t = preset_template(n)
        assert np.array_equal(validate_template(t), t)
    tv = preset_template("theme-variations")
    assert 0.0 < tv[0, 8] < 1.0  # variations are only partly similar


def test_unknown_preset() -> None:
    with pytest.raises(UserError, match="unknown preset"):
        preset_template("sonata-ish")


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".png"])
def test_template_file_round_trip(tmp_path, suffix: str) -> None:
    t = preset_template("aaba")
    p = tmp_path / f"t{suffix}"
    save_template_file(t, p)
    back = load_template_file(p)
    tol = 1 / 255 if suffix == ".png" else 1e-4
    assert back.shape == t.shape and np.abs(back - t).max() <= tol


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones((3, 4)), "square"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
        (np.array([[1.0, -0.5], [-0.5, 1.0]]), "negative"),
        (np.array([[1.0, 3.0], [3.0, 1.0]]), r"\[0, 1\]"),
        (np.ones((0, 0)), "between 1 and"),
        (np.ones(5), "square"),
    ],
)
def test_validate_template_rejects(matrix: np.ndarray, message: str) -> None:
    with pytest.raises(UserError, match=message):
        validate_template(matrix)


def test_load_template_errors(tmp_path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(UserError):
        load_template_file(empty)
    junk = tmp_path / "j.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(UserError, match="cannot read"):
        load_template_file(junk)
    with pytest.raises(UserError, match="not found"):
        load_template_file(tmp_path / "missing.npy")
    with pytest.raises(UserError, match="unsupported"):
        (tmp_path / "t.xyz").write_text("1")
        load_template_file(tmp_path / "t.xyz")


@pytest.mark.parametrize("bars", [1, 7, 16, 33, 64, 200])
def test_resample_sizes(bars: int) -> None:
    t = template_from_structure("A8B8A8B8")
    r = resample_template(t, bars)
    assert r.shape == (bars, bars)
    assert np.all(np.diag(r) == 1) and np.allclose(r, r.T)


def test_resample_doubles_stripes() -> None:
    r = resample_template(template_from_structure("A2B2A2"), 12)
    assert r[0, 8] == 1 and r[3, 11] == 1 and r[0, 4] == 0


def test_resolve_template_bars_and_sources() -> None:
    t, secs = resolve_template(preset="aaba")
    assert t.shape == (32, 32) and secs is not None
    t, secs = resolve_template(structure="A4B4", bars=16)
    assert t.shape == (16, 16) and secs is not None and [(s.letter, s.bars) for s in secs] == [("A", 8), ("B", 8)]
    with pytest.raises(UserError, match="exactly one"):
        resolve_template(structure="A4", preset="aaba")
    for bad in (0, 5000):
        with pytest.raises(UserError, match="between 1 and"):
            resolve_template(preset="aaba", bars=bad)


def test_bars_scale_the_sections_of_a_structure() -> None:
    from models.structure import resolve_template, scale_sections

    t, sections = resolve_template(structure="i4A8B8o4", bars=12)
    assert sections is not None and [s.letter for s in sections] == ["i", "A", "B", "o"]
    assert sum(s.bars for s in sections) == 12 and t.shape == (12, 12)
    assert [s.bars for s in scale_sections(parse_structure("A8B8"), 3)] == [2, 1]
