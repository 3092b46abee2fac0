"""A batch on a Ray cluster: a local head with two worker nodes (one CPU each), a folder of small files sent
through ``refrain separate --ray ADDRESS``, one worker node killed mid-batch; every file must still be done,
exactly once, with nothing half-written left behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from app.batch import MANIFEST
from tests.app.test_batch import _cli, _songs

STORE = 80 * 1024 * 1024  # object store per node: the tasks pass only paths


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": STORE})
    try:
        yield c
    finally:
        c.shutdown()


def test_a_worker_lost_mid_batch_leaves_every_file_done_once(cluster: Cluster, tmp_path: Path) -> None:
    nodes = [cluster.add_node(num_cpus=1, object_store_memory=STORE) for _ in range(2)]
    cluster.wait_for_nodes()
    songs = _songs(tmp_path / "in", 8, 12.0)  # about a second each: the lost node is mid-task
    out = tmp_path / "out"
    p = _cli("separate", str(tmp_path / "in"), "--out", str(out), "--ray", cluster.address)
    assert p.stderr is not None
    lines = []
    for line in p.stderr:
        lines.append(line)
        if line.startswith("done"):  # work is flowing on both nodes: lose one of them
            cluster.remove_node(nodes[0], allow_graceful=False)
            break
    rest, err = p.communicate(timeout=600)
    lines += err.splitlines()
    assert p.returncode == 0, "".join(lines)
    done = [line.split()[1:3] for line in lines if line.startswith("done")]
    assert sorted(" ".join(d) for d in done) == sorted(s.stem for s in songs)  # each reported done once
    items = json.loads((out / MANIFEST).read_text())["items"]
    assert len(items) == len(songs) and all(i["state"] == "done" for i in items)
    for s in songs:
        assert sorted(f.name for f in (out / s.stem).iterdir()) == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    assert not list(out.rglob(".rf-*"))
    assert rest.count("done\t") == len(songs)
