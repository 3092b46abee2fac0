"""Auto-mixer: proposes console settings (gain, pan, EQ and compression per track; bus compression and a
limiter on the master) for a set of stems, balanced by a controller network or matched to a reference
track. Anchors: Steinmetz et al., "Automatic multitrack mixing with a differentiable mixing console of neural
audio effects" (arXiv 2010.10291); Vanka et al., "Diff-MST" (ISMIR 2024), learned from the paper only."""

from models.platform.registry import Family

FORMAT = "refrain-automix-controller"
FAMILY = Family.of(__name__, "Auto-mixer", FORMAT, default="automix", runtime="runtime")
