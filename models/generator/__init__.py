"""Structured generation: an LSTM whose attention over earlier bars comes from a self-similarity template
(SING: Hager, Hablutzel and Kinnaird, arXiv 2406.15647), and the same LSTM without attention as baseline."""

from models.platform.registry import Family

FORMAT = "refrain-generator-step"
DESCRIPTIONS = {
    "sing": "SING: follows the form (attention over earlier bars from the template)",
    "lstm": "LSTM baseline: the same network without attention (ignores the form)",
}
FAMILY = Family.of(__name__, "Structured generator", FORMAT, default="sing", runtime="sampler")
