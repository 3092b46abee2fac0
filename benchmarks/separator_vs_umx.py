"""Refrain's separator checkpoint against the Open-Unmix baseline on the rendered evaluation sets, both
run with torch in one pass per 30 s clip at the runtime's input level (Open-Unmix's ONNX export bakes the
frame count into a Reshape, so it cannot go through the shipped runtime). Prints JSON: mean whole-clip
SDR per stem.

    .venv/bin/python benchmarks/separator_vs_umx.py [--songs 24] [--umx runs/sep-umx/best.pt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.separator.dataset import StemBank  # noqa: E402
from models.separator.export import load_net  # noqa: E402
from models.separator.render import cache_dir  # noqa: E402
from models.separator.train import validate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--songs", type=int, default=24)
    ap.add_argument("--refrain", type=Path, default=ROOT / "checkpoints" / "separator" / "bandnet.pt")
    ap.add_argument("--sets", default="test,heldout,recorded")
    ap.add_argument("--umx", type=Path, default=ROOT / "runs" / "sep-umx" / "best.pt")
    a = ap.parse_args()
    root = cache_dir()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, ck in (("refrain", a.refrain), ("open-unmix", a.umx)):
        net, cfg, _ = load_net(ck)
        for s in a.sets.split(","):
            v = validate(net, StemBank(root / s, limit=a.songs), cfg)
            out.setdefault(s, {})[name] = {k: round(x, 2) for k, x in v.items()}
            print(name, s, out[s][name], file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "separator_vs_umx", "songs": a.songs, "sets": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
