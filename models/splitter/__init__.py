"""Same-timbre splitter: two singers, two violins, a piano's two hands, two speakers; trained with
permutation-invariant training, dynamic sample dropout and layer-wise optimisation (Gao, Gu and Marsic,
"Improving Label Assignments Learning by Dynamic Sample Dropout Combined with Layer-wise Optimization in
Speech Separation", arXiv 2311.12199)."""

from models.platform.registry import Family

FORMAT = "refrain-splitter-wave"
FAMILY = Family.of(__name__, "Same-timbre splitter", FORMAT, default="splitter", runtime="runtime")
