"""Stems: drums, bass, vocals and other, from a song; trained with random mixing across songs (Jeon et al.,
"Why does music source separation benefit from cacophony?", arXiv 2402.18407)."""

from models.platform.registry import Family

FORMAT = "refrain-separator-masks"
FAMILY = Family.of(__name__, "Stem separator", FORMAT, default="separator", runtime="runtime")
