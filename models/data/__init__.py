"""Corpora and the shared stem synth, for every model family's training and evaluation data.

* :mod:`models.data.pop909`: the POP909 corpus (songs, split, MIDI parts, beats, chords);
* :mod:`models.data.parts`: parts a song does not have, written from its beats and chords (bass, drums);
* :mod:`models.data.recipe`: everything random about one render (SoundFont, programs, levels, effects);
* :mod:`models.data.synth`: MIDI parts to audio through fluidsynth, plus the per-stem EQ and level.
"""
