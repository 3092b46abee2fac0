"""The generator's controls: chords and keys as typed, the harmony layer, the drum arranger, and the hard
constraints of sampling (scale, section roles, exact repeats, density), on a tiny trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import UserError
from models.generator.chords import Chord, Key, estimate_chords, estimate_key, parse_harte, parse_key, parse_symbol
from models.generator.codec import STEPS_PER_BAR
from models.generator.conditions import layout_from_sections, layout_from_template
from models.generator.drums import CRASH, KICK, drum_part
from models.generator.harmony import diatonic_tokens, fit_progression, generate_progression, parse_progression, token
from models.generator.piece import GenerateRequest, generate_piece, parse_programs, parse_time_signature
from models.generator.sampler import Sampling, StructuredGenerator, _sample, _tempered_bernoulli
from models.structure import parse_structure, template_from_structure

FORM = "i2A4B4A4b2B4o2"


def test_chord_symbols_harte_labels_and_keys() -> None:
    assert parse_symbol("F#m7") == Chord(6, "min7")
    assert parse_symbol("Bbmaj7") == Chord(10, "maj7")
    assert parse_symbol("C/E") == Chord(0, "maj")
    assert parse_symbol("G7") == Chord(7, "7") and parse_symbol("Bdim").quality == "dim"  # type: ignore[union-attr]
    assert parse_symbol("N") is None
    with pytest.raises(UserError, match="unknown chord"):
        parse_symbol("Q7")
    assert parse_harte("C#:min7") == Chord(1, "min7") and parse_harte("Eb:7/5") == Chord(3, "7")
    assert parse_harte("B:hdim7") == Chord(11, "dim") and parse_harte("N") is None
    assert parse_key("Bb major") == Key(10, False) and parse_key("D minor") == Key(2, True)
    assert parse_key("F#m") == Key(6, True) and parse_key("e") == Key(4, False)
    with pytest.raises(UserError, match="unknown key"):
        parse_key("H major")
    with pytest.raises(UserError, match="3/4"):
        parse_time_signature("3/4")
    assert parse_programs("melody=40,bass=34") == {"melody": 40, "acc": 0, "bass": 34}
    with pytest.raises(UserError):
        parse_programs("drums=3")


def test_key_and_chord_estimation() -> None:
    c_major = np.zeros(12)
    c_major[[0, 2, 4, 5, 7, 9, 11]] = [5, 2, 4, 2, 5, 2, 1]
    assert estimate_key(c_major) == Key(0, False)
    chroma = np.zeros((3, 12))
    chroma[0, [9, 0, 4]] = 1  # A minor
    chroma[1, [7, 11, 2, 5]] = 1  # G7
    assert estimate_chords(chroma) == [Chord(9, "min"), Chord(7, "7"), None]


def test_typed_progression_loops_or_stretches_over_each_section() -> None:
    layout = layout_from_sections(parse_structure("A4B2"))
    looped = fit_progression(parse_progression("Dm Bb"), layout, "loop")
    assert [c.symbol for c in looped[::2]] == ["Dm", "Bb", "Dm", "Bb", "Dm", "Bb"]  # type: ignore[union-attr]
    stretched = fit_progression(parse_progression("C G"), layout, "stretch")
    assert [c.symbol for c in stretched[::2]] == ["C", "C", "G", "G", "C", "G"]  # type: ignore[union-attr]
    per_section = fit_progression(parse_progression("A=C G | Am F; B=F"), layout, "loop")
    assert [c.symbol for c in per_section[:4]] == ["C", "G", "Am", "F"]  # type: ignore[union-attr]
    assert per_section[8:] == [Chord(5, "maj")] * 4
    with pytest.raises(UserError):
        parse_progression("C G A B | C")  # a bar of 4 chords


def test_generated_progression_repeats_sections_stays_in_key_and_ends_on_the_tonic() -> None:
    sections = parse_structure(FORM)
    layout = layout_from_sections(sections)
    key = Key(2, True)
    chords = generate_progression(layout, key, np.random.default_rng(0), variation=0.0)
    assert len(chords) == 2 * layout.bars
    a = [layout.section_bars(k) for k, s in enumerate(sections) if s.letter == "A"]
    first, second = (slice(2 * int(b[0]), 2 * int(b[-1]) + 2) for b in a)
    assert chords[first] == chords[second]  # same letter, same chords (variation 0)
    allowed = diatonic_tokens(key)
    assert all(token(c, key) in allowed for c in chords if c is not None)
    assert chords[-1] == Chord(2, "min")


def test_drums_follow_the_form() -> None:
    layout = layout_from_sections(parse_structure("A4B4A4"))
    d = drum_part(layout, 100.0, seed=1)
    bars = [[(s % STEPS_PER_BAR, p) for s, _, p, _ in d.rows() if s // STEPS_PER_BAR == b] for b in range(12)]
    assert bars[1] == bars[9] and bars[2] == bars[10]  # same letter, same groove
    assert bars[0] == [h for h in bars[8] if h != (0, CRASH)]  # the repeat adds a crash on its first beat
    assert bars[3] != bars[2]  # the section's last bar has a fill
    assert (0, CRASH) in bars[4] and (0, CRASH) in bars[8]  # crash on section starts
    assert any(p == KICK for _, p in bars[0])
    assert len(drum_part(layout, 100.0, density=0.0)) == 0


def test_layout_from_a_drawn_template() -> None:
    layout = layout_from_template(template_from_structure("A4B4A4"))
    assert layout.letters == ["A", "B", "A"] and layout.to_end.tolist()[:4] == [3, 2, 1, 0]
    assert layout.melody_on.all()


def test_sampling_helpers_keep_density_apart_from_variety() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(-2.0, 2.0, (3, 60))
    allowed = np.ones((3, 60), bool)
    base = 1.0 / (1.0 + np.exp(-logits))
    for temp in (0.5, 1.0, 2.0):
        q = _tempered_bernoulli(logits, allowed, temp, 1.0)
        np.testing.assert_allclose(q.sum(axis=1), base.sum(axis=1), rtol=1e-3)  # same expected onsets
    allowed[:, ::2] = False
    q = _tempered_bernoulli(logits, allowed, 1.0, 1.0)
    assert np.all(q[:, ::2] == 0)
    assert not _tempered_bernoulli(logits * 50, allowed, 0.2, 0.0).any()  # density 0 is silent
    picks = _sample(np.log(np.array([[0.7, 0.2, 0.1]] * 200)), np.random.default_rng(1), top_p=0.5)
    assert np.all(picks == 0)  # nucleus of mass 0.5 is the top class only
    with pytest.raises(UserError, match="top-p"):
        Sampling(top_p=0.0).check()


@pytest.fixture(scope="module")
def tiny(tiny_generator: dict[str, Path]) -> StructuredGenerator:
    return StructuredGenerator(str(tiny_generator["model"]))


def _req(**kw: object) -> GenerateRequest:
    sections = parse_structure(FORM)
    return GenerateRequest(template_from_structure(sections), sections, **kw)  # type: ignore[arg-type]


def test_key_mask_keeps_every_note_in_the_scale(tiny: StructuredGenerator) -> None:
    for seed in range(3):
        piece = generate_piece(_req(key=parse_key("Bb major"), seed=seed, temperature=2.0), generator=tiny)
        scale = set(Key(10, False).scale)
        pitches = np.concatenate([n.pitch for k, n in piece.parts().items() if k != "drums"])
        assert pitches.size > 0 and set((pitches % 12).tolist()) <= scale
    loose = generate_piece(_req(key=parse_key("Bb major"), chromatic=True, temperature=2.0), generator=tiny)
    pitches = np.concatenate([n.pitch for k, n in loose.parts().items() if k != "drums"])
    assert not set((pitches % 12).tolist()) <= set(Key(10, False).scale)


def test_no_melody_in_instrumental_sections(tiny: StructuredGenerator) -> None:
    piece = generate_piece(_req(seed=2), generator=tiny)
    layout = layout_from_sections(parse_structure(FORM))
    mel_bars = set((piece.parts()["melody"].start // STEPS_PER_BAR).tolist())
    assert mel_bars and not mel_bars & set(np.nonzero(~layout.melody_on)[0].tolist())


def test_variation_zero_repeats_exactly_and_one_does_not(tiny: StructuredGenerator) -> None:
    a0, a1 = 2 * STEPS_PER_BAR, 6 * STEPS_PER_BAR  # the two A sections of FORM (bars 2-5 and 10-13)
    b0 = 10 * STEPS_PER_BAR
    exact = generate_piece(_req(variation=0.0, chords="C G Am F", key=Key(0, False)), generator=tiny).grid
    assert np.array_equal(exact.acc[a0:a1], exact.acc[b0 : b0 + 4 * STEPS_PER_BAR])
    assert np.array_equal(exact.mel[a0:a1], exact.mel[b0 : b0 + 4 * STEPS_PER_BAR])
    free = generate_piece(
        _req(variation=1.0, chords="C G Am F", key=Key(0, False), temperature=2.0), generator=tiny
    ).grid
    assert not np.array_equal(free.acc[a0:a1], free.acc[b0 : b0 + 4 * STEPS_PER_BAR])


def test_copies_never_bring_melody_into_instrumental_bars(tiny: StructuredGenerator) -> None:
    sections = parse_structure("A4a4")
    t = np.eye(8, dtype=np.float32)
    for i in range(4):
        t[i, i + 4] = t[i + 4, i] = 1.0  # a painted form: the instrumental bars repeat the sung ones
    piece = generate_piece(GenerateRequest(t, sections, variation=0.0, seed=1), generator=tiny)
    assert not (piece.parts()["melody"].start >= 4 * STEPS_PER_BAR).any()


def test_regenerated_bars_are_new_and_kept_bars_keep_key_chords_and_drums(tiny: StructuredGenerator) -> None:
    sections = parse_structure("A4A4")
    t = template_from_structure(sections)
    first = generate_piece(GenerateRequest(t, sections, key=Key(4, True), seed=1, variation=0.0), generator=tiny)
    again = generate_piece(
        GenerateRequest(t, sections, seed=2, variation=0.0, primer=first, regenerate_bars=[4, 5, 6, 7]), generator=tiny
    )
    assert again.key == Key(4, True) and again.chords == first.chords
    kept = 4 * STEPS_PER_BAR
    assert not np.array_equal(again.grid.acc[kept:], first.grid.acc[kept:])  # not copied from the kept A
    for name, n in first.parts().items():
        # onsets, pitches and velocities (a note held over the boundary may be cut by a new one)
        keep_rows = [(s, p, v) for s, _, p, v in n.rows() if s < kept]
        assert [(s, p, v) for s, _, p, v in again.parts()[name].rows() if s < kept] == keep_rows, name


def test_density_zero_silences_a_part(tiny: StructuredGenerator) -> None:
    piece = generate_piece(_req(density={"bass": 0.0, "drums": 0.0}), generator=tiny)
    parts = piece.parts()
    assert len(parts["bass"]) == 0 and len(parts["drums"]) == 0 and len(parts["acc"]) > 0
