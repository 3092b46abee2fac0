"""Stems: drums, bass, vocals and other, from a song; trained with random mixing across songs (Jeon et al.,
"Why does music source separation benefit from cacophony?", arXiv 2402.18407)."""

from models.platform.registry import Family

FORMAT = "refrain-separator-masks"
FAMILY = Family(
    name="separator",
    title="Stem separator",
    formats=(FORMAT,),
    default="separator",
    load="models.separator.runtime:load",
    train="models.separator.train:main",
    export="models.separator.export:main",
    evaluate="models.separator.evaluate:run",
)
