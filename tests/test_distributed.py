"""``gapkit embed`` under torchrun on CPU with gloo (issue 27): two processes against one, a killed rank and the
resume, the manifest's checks. Each run is a real ``python -m torch.distributed.run --standalone``.

mini-clip trains once (1 epoch, 200 pairs) into a module-wide cache; every run gets its own copy of the trained
weights but an empty embedding cache, so a second run recomputes its embeddings instead of reading the first's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gapkit.cli import _folder
from gapkit.cli._distributed import rank_range, shard_ranges
from gapkit.geometry import GapReport

ROOT = Path(__file__).resolve().parents[1]
N, SHARD_ROWS = 200, 25
ARGS = ["--model", "mini-clip", "--data", "shapes", "-n", str(N), "--epochs", "1", "--device", "cpu",
        "--shard-rows", str(SHARD_ROWS)]


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, GAPKIT_CACHE=str(cache), PYTHONHASHSEED="0", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def _gapkit(cache: Path, *argv: str, procs: int = 1, **extra: str) -> subprocess.CompletedProcess:
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
              if procs > 1 else [sys.executable])
    return subprocess.run([*launch, "-m", "gapkit", *map(str, argv)], cwd=ROOT, env=_env(cache, **extra),
                          capture_output=True, text=True, timeout=300)


def _report(capsys, *argv) -> subprocess.CompletedProcess:
    """``gapkit report`` in this process (it needs no torch and no process group): a CompletedProcess's fields."""
    from gapkit.cli import main

    rc = main(["report", *map(str, argv)])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["gapkit", "report"], rc, out.out, out.err)


def _fresh_cache(trained: Path, where: Path) -> Path:
    """A cache with mini-clip's trained weights (and text features) but no embeddings."""
    where.mkdir(parents=True)
    for sub in trained.iterdir():
        if sub.name != "embeddings":
            shutil.copytree(sub, where / sub.name)
    return where


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The reference: one process (no torchrun), which also trains mini-clip into the module's cache."""
    pytest.importorskip("torch")
    base = tmp_path_factory.mktemp("dist")
    cache = base / "cache"
    res = _gapkit(cache, "embed", *ARGS, "--out", base / "D1", "--card", base / "card1.json", "--boot", "20")
    assert res.returncode == 0, res.stderr
    return base, cache


def test_rank_ranges_are_split_dataset_by_nodes_contiguous_blocks():
    assert [rank_range(10, r, 3) for r in range(3)] == [(0, 4), (4, 7), (7, 10)]  # datasets' shard(contiguous=True)
    assert [rank_range(2000, r, 2) for r in range(2)] == [(0, 1000), (1000, 2000)]
    assert shard_ranges(4, 7, 2) == [(4, 6), (6, 7)]


def test_rank_ranges_agree_with_split_dataset_by_node():
    datasets = pytest.importorskip("datasets")
    from datasets.distributed import split_dataset_by_node

    ds = datasets.Dataset.from_dict({"i": list(range(10))})
    for r in range(3):
        a, b = rank_range(10, r, 3)
        assert split_dataset_by_node(ds, rank=r, world_size=3)["i"] == list(range(a, b))


def test_two_processes_write_the_same_embeddings_and_card_as_one(one_process, tmp_path, capsys):
    base, trained = one_process
    res = _gapkit(_fresh_cache(trained, tmp_path / "cache"), "embed", *ARGS, "--out", tmp_path / "D2",
                  "--card", tmp_path / "card2.json", "--boot", "20", procs=2)
    assert res.returncode == 0, res.stderr
    assert "[rank 0/2] embedding 4 shard(s) between rows 0 and 100" in res.stderr
    assert "[rank 1/2] embedding 4 shard(s) between rows 100 and 200" in res.stderr
    assert "all_reduce of sufficient statistics over 2 ranks" in res.stderr
    again = _gapkit(tmp_path / "cache", "embed", *ARGS, "--out", tmp_path / "D2", procs=2)
    assert again.returncode == 0 and f"reused {N // SHARD_ROWS} of {N // SHARD_ROWS} shards" in again.stderr
    assert "embedding" not in again.stderr  # nothing recomputed
    one, m1 = _folder.read_folder(base / "D1")
    two, m2 = _folder.read_folder(tmp_path / "D2")
    assert len(m2["shards"]) == N // SHARD_ROWS and m2["n"] == N and m2["d"] == m1["d"]
    for col in ("image", "text", "labels"):  # recomputed in two processes, row for row, in the same order
        np.testing.assert_allclose(two[col], one[col], rtol=0, atol=1e-6)
    c1, c2 = GapReport.from_json(base / "card1.json"), GapReport.from_json(tmp_path / "card2.json")
    assert c2.params["sufficient_statistics"]["how"] == "all_reduce over 2 ranks"
    for e1, e2 in zip(c1.estimates, c2.estimates):
        assert (e1.metric, e1.modality) == (e2.metric, e2.modality)
        assert e2.value == pytest.approx(e1.value, rel=1e-5, abs=1e-6), e1.metric
    # gapkit report DIR merges the shards' statistics with no process group: the same card
    for folder in (base / "D1", tmp_path / "D2"):
        rep = _report(capsys, folder, "--boot", "20", "--json", folder / "report.json")
        assert rep.returncode == 0, rep.stderr
        assert "from sufficient statistics (merged from 8 shards)" in rep.stdout
        assert "Not sums, so from all 200 pairs gathered on one process: uniformity" in rep.stdout
        assert "mmd (an RBF kernel" in rep.stdout and "retrieval" in rep.stdout and "k-means" in rep.stdout
    r1, r2 = GapReport.from_json(base / "D1" / "report.json"), GapReport.from_json(tmp_path / "D2" / "report.json")
    assert abs(r1["centroid_gap"] - r2["centroid_gap"]) < 1e-5
    assert r2["centroid_gap"] == pytest.approx(c2["centroid_gap"], rel=1e-9)


def test_a_killed_rank_leaves_its_complete_shards_and_the_rerun_recomputes_only_the_missing(one_process, tmp_path,
                                                                                           capsys):
    base, trained = one_process
    cache, out = _fresh_cache(trained, tmp_path / "cache"), tmp_path / "D"
    killed = _gapkit(cache, "embed", *ARGS, "--out", out, procs=2, GAPKIT_EMBED_KILL_AFTER="1:1")
    assert killed.returncode != 0
    assert not (out / "manifest.json").exists()  # no manifest: report says the run did not finish
    rank1 = sorted(p.name for p in (out / "shards").glob("00000001*.json"))
    assert rank1 == ["0000000100-0000000125.json"]  # its one complete shard, and nothing half-written counted
    record = json.loads((out / "shards" / rank1[0]).read_text())
    assert _folder.complete_shard(out, 100, 125, record["meta"]) == record  # valid: every file hashes right
    rep = _report(capsys, out)
    assert rep.returncode == 2 and "did not finish" in rep.stderr and "Traceback" not in rep.stderr
    done = len(list((out / "shards").glob("*.json")))
    resumed = _gapkit(cache, "embed", *ARGS, "--out", out, procs=2)
    assert resumed.returncode == 0, resumed.stderr
    assert f"reused {done} of {N // SHARD_ROWS} shards" in resumed.stderr
    assert "[rank 1/2] embedding 3 shard(s) between rows 125 and 200" in resumed.stderr
    arrays, _ = _folder.read_folder(out)
    want, _ = _folder.read_folder(base / "D1")
    np.testing.assert_allclose(arrays["image"], want["image"], rtol=0, atol=1e-6)
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no temporaries left behind


def test_the_manifest_names_a_corrupted_or_missing_shard_and_the_rerun_repairs_only_them(one_process, tmp_path, capsys):
    base, trained = one_process
    out = tmp_path / "D"
    shutil.copytree(base / "D1", out)
    bad = out / "shards" / "0000000050-0000000075.text.npy"
    good = bad.read_bytes()
    bad.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    rep = _report(capsys, out)
    assert rep.returncode == 2 and bad.name in rep.stderr and "corrupted" in rep.stderr
    assert len(rep.stderr.strip().splitlines()) == 1
    bad.write_bytes(good)
    gone = out / "shards" / "0000000150-0000000175.image.npy"
    gone.unlink()
    rep = _report(capsys, out)
    assert rep.returncode == 2 and gone.name in rep.stderr and "missing" in rep.stderr
    bad.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    fixed = _gapkit(trained, "embed", *ARGS, "--out", out)
    assert fixed.returncode == 0, fixed.stderr
    assert f"reused {N // SHARD_ROWS - 2} of {N // SHARD_ROWS} shards" in fixed.stderr
    assert _report(capsys, out).returncode == 0
    arrays, _ = _folder.read_folder(out)
    want, _ = _folder.read_folder(base / "D1")
    for col in ("image", "text"):
        np.testing.assert_array_equal(arrays[col], want[col])


def test_torchruns_environment_is_read_and_bad_values_are_one_line(monkeypatch):
    from gapkit.cli import CLIError
    from gapkit.cli._distributed import world

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert world().size == 1 and not world().distributed and world().tag == ""  # no torchrun: one process
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    w = world()
    assert (w.rank, w.size, w.local_rank, w.tag) == (2, 4, 0, "[rank 2/4] ")
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(CLIError, match="RANK=4 with WORLD_SIZE=4"):
        world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(CLIError, match="not an integer"):
        world()


def test_more_processes_than_pairs_is_one_line_exit_2(one_process, tmp_path):
    _, trained = one_process
    res = _gapkit(trained, "embed", *[a if a != str(N) else "1" for a in ARGS], "--out", tmp_path / "D", procs=2)
    assert res.returncode != 0 and "leaves a rank without rows; run fewer processes" in res.stderr


def test_hub_captions_are_split_per_rank_with_split_dataset_by_node(monkeypatch):
    """The plumbing of Hub data under torchrun: the first n rows of the split, map-style, then
    split_dataset_by_node; each rank's rows start where rank_range says. ``datasets`` is not in the test
    environment (an extra), so a stand-in with its documented semantics (``split[:n]`` slicing;
    ``Dataset.shard(world_size, rank, contiguous=True)``) records how gapkit calls it."""
    import argparse
    import types

    from gapkit.cli._distributed import World
    from gapkit.cli._sharded import _load

    rows = [{"image": np.full((8, 8, 3), i, np.uint8), "answer": [f"caption {i}"]} for i in range(11)]
    calls = []

    def load_dataset(dataset_id, split):
        calls.append((dataset_id, split))
        name, _, stop = split.partition("[:")
        return rows[: int(stop.rstrip("]"))]

    def split_dataset_by_node(ds, rank, world_size):
        calls.append(("split", rank, world_size))
        a, b = rank_range(len(ds), rank, world_size)
        return ds[a:b]

    fake = types.ModuleType("datasets")
    fake.load_dataset = load_dataset
    fake.distributed = types.SimpleNamespace(split_dataset_by_node=split_dataset_by_node)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.setitem(sys.modules, "datasets.distributed", fake.distributed)
    args = argparse.Namespace(data="coco", model="clip-vit-b32", n=9, seed=0)
    part, n, offset = _load(args, World(rank=1, size=2, local_rank=1), {})
    assert (n, offset) == (9, 5) and part.texts == [f"caption {i}" for i in range(5, 9)]
    assert calls == [("lmms-lab/COCO-Caption2017", "val[:9]"), ("split", 1, 2)]
    part, n, offset = _load(argparse.Namespace(data="coco", model="clip-vit-b32", n=50, seed=0),
                            World(rank=0, size=2, local_rank=0), {})
    assert (n, offset) == (11, 0) and len(part.texts) == 6  # a split shorter than -n: its own rows, split
    with pytest.raises(Exception, match="mini-clip trains on the whole data set"):
        _load(argparse.Namespace(data="coco", model="mini-clip", n=9, seed=0), World(1, 2, 1), {})
