"""Epochs over the splitter's fixed example pool, with what dynamic sample dropout and the label-switch
rate need to remember: which examples this rank owns, the epoch's order and cursor, the DSD memory and
the last assignment of each example, and the per-epoch log.

Under DDP each rank owns a fixed share of the pool (ids ``rank::world``) and shuffles it every epoch, so
an example always returns to the rank that remembers it. The state is saved beside each checkpoint
(``pit_state.json``; other ranks save theirs at every ``valid_every`` update) with a fingerprint of the
pool, and a resumed run refuses a memory made for another pool. The epoch log (``epochs.jsonl``) starts
afresh with a fresh run and, on resume, keeps only the epochs the checkpoint had finished."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.files import atomic_path
from models.platform.pit import DynamicSampleDropout, SwitchCounter


class PoolEpochs:
    def __init__(
        self, size: int, sources: int, dsd_mode: str, fingerprint: dict[str, Any], seed: int, rank: int, world: int
    ) -> None:
        self.owned = np.arange(rank, size, world)
        self.rank = rank
        self.fingerprint = fingerprint
        self.rng = np.random.default_rng([seed, rank])
        self.dsd = DynamicSampleDropout(size, sources, dsd_mode)
        self.switches = SwitchCounter(size, sources)
        self.epoch, self.at, self.overruled, self.seen = 0, 0, 0, 0
        self.order = self.rng.permutation(self.owned)

    def next_ids(self, batch: int, log: Path | None, update: int) -> np.ndarray:
        """The next ``batch`` example ids of this rank, ending the epoch (and logging it) when too few are left."""
        if self.at + batch > len(self.order):
            self.end_epoch(log, update)
        ids = self.order[self.at : self.at + batch]
        self.at += batch
        return ids

    def end_epoch(self, log: Path | None, update: int) -> None:
        line = {
            "epoch": self.epoch,
            "update": update,
            "switch_rate": self.switches.end_epoch(),
            "dsd_overruled": self.overruled / max(1, self.seen),
        }
        if log is not None:
            with open(log, "a") as f:
                f.write(json.dumps(line) + "\n")
        self.epoch += 1
        self.at, self.overruled, self.seen = 0, 0, 0
        self.order = self.rng.permutation(self.owned)

    def state_file(self, out: Path) -> Path:
        return out / ("pit_state.json" if self.rank == 0 else f"pit_state.rank{self.rank}.json")

    def save(self, out: Path, update: int) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "update": update,
            "dsd": self.dsd.state(),
            "last": self.switches.last.tolist(),
            "counts": [self.switches.revisits, self.switches.switches, self.overruled, self.seen],
            "epoch": self.epoch,
            "at": self.at,
            "order": self.order.tolist(),
            "rng": self.rng.bit_generator.state,
        }
        with atomic_path(self.state_file(out)) as tmp:
            tmp.write_text(json.dumps(state))

    def resume(self, out: Path, update: int, log: Path | None) -> None:
        """Load the state saved with the checkpoint at ``update`` and cut the log back to it."""
        path = self.state_file(out)
        if not path.exists():
            return
        s = json.loads(path.read_text())
        if s["fingerprint"] != self.fingerprint:
            raise UserError(f"{path} was made for another example pool; train into a new --out folder")
        if int(s["update"]) != update:
            if self.rank == 0:
                raise UserError(f"{path} is from update {s['update']}, the checkpoint from {update}")
            return  # another rank saved at an update rank 0 did not checkpoint: this rank's memory starts afresh
        self.dsd.load(s["dsd"])
        self.switches.last = np.asarray(s["last"], np.int64)
        self.switches.revisits, self.switches.switches, self.overruled, self.seen = (int(x) for x in s["counts"])
        self.epoch, self.at = int(s["epoch"]), int(s["at"])
        self.order = np.asarray(s["order"], np.int64)
        self.rng.bit_generator.state = s["rng"]
        if log is not None and log.exists():
            keep = [ln for ln in log.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] < self.epoch]
            with atomic_path(log) as tmp:
                tmp.write_text("".join(f"{ln}\n" for ln in keep))


def pool_fingerprint(names: list[str], **settings: Any) -> dict[str, Any]:
    """What makes a pool: its renders (hashed) and the settings it was drawn with."""
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    return {"renders": digest, **{k: str(v) for k, v in settings.items()}}
