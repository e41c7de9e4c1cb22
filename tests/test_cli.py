"""The ``gapkit`` command line (issue 26): report, compare, embed, their bad inputs, and gap_report out of core."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import gapkit
from gapkit import geometry
from gapkit.cli import main
from gapkit.cli import _folder
from gapkit.geometry import GapReport

ROOT = Path(__file__).resolve().parents[1]
LIANG = ROOT.parent / "shared" / "data" / "liang2022"


def _pairs(n: int = 300, d: int = 16, seed: int = 0, gap: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, d))
    return ((shared + gap * np.eye(d)[0] + 0.5 * rng.normal(size=(n, d))).astype(np.float32),
            (shared - gap * np.eye(d)[0] + 0.5 * rng.normal(size=(n, d))).astype(np.float32))


@pytest.fixture
def npy_pair(tmp_path):
    img, txt = _pairs()
    a, b = tmp_path / "img.npy", tmp_path / "txt.npy"
    np.save(a, img)
    np.save(b, txt)
    return a, b, img, txt


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _value(table: str, metric: str, modality: str = "image-text") -> float:
    m = re.search(rf"^{metric}\s+{modality}\s+(\S+)", table, flags=re.M)
    assert m, table
    return float(m.group(1))


# --------------------------------------------------------------------------- report


def test_report_two_npy_files_table_and_json(capsys, npy_pair, tmp_path):
    a, b, img, txt = npy_pair
    out_json = tmp_path / "card.json"
    rc, out, err = run_cli(capsys, "report", a, b, "--boot", "20", "--json", out_json)
    assert rc == 0
    assert _value(out, "centroid_gap") == pytest.approx(geometry.centroid_gap(img, txt), rel=1e-3)  # printed to 4 digits
    assert "done in" in err and "gapkit:" not in out  # progress on stderr only, results on stdout
    card = GapReport.from_json(out_json)
    ref = geometry.gap_report(img, txt, n_boot=20, seed=0)
    assert card.n == 300 and card.d == 16 and card.n_boot == 20
    for e, r in zip(card.estimates, ref.estimates):  # the same card as gap_report's
        assert (e.metric, e.modality) == (r.metric, r.modality)
        assert e.value == pytest.approx(r.value, rel=1e-12, abs=1e-15)
    doc = json.loads(out_json.read_text())
    assert doc["gapkit_version"] == gapkit.__version__ and doc["format"] == "gapkit.GapReport"
    src = doc["inputs"]["sources"]
    assert [s["sha256"] for s in src] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert src[0]["shape"] == [300, 16] and src[0]["dtype"] == "float32"


def test_report_npz_gives_the_npy_card(capsys, npy_pair, tmp_path):
    a, b, img, txt = npy_pair
    z = tmp_path / "pairs.npz"
    np.savez(z, image=img, text=txt)
    rc1, out1, _ = run_cli(capsys, "report", a, b, "--boot", "0")
    rc2, out2, _ = run_cli(capsys, "report", z, "--boot", "0")
    assert rc1 == rc2 == 0
    assert out1.splitlines()[2:] == out2.splitlines()[2:]  # the same table; only the header's label differs


def test_report_labels_give_per_label_gaps(capsys, npy_pair, tmp_path):
    a, b, img, txt = npy_pair
    labels = np.array(["cat", "dog", "emu"])[np.arange(300) % 3]
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    out_json = tmp_path / "card.json"
    rc, _, _ = run_cli(capsys, "report", a, b, "--boot", "0", "--labels", tmp_path / "labels.txt", "--json", out_json)
    assert rc == 0
    groups = {g["label"]: g for g in GapReport.from_json(out_json).groups}
    assert set(groups) == {"cat", "dog", "emu"}
    for name, g in groups.items():
        rows = labels == name
        assert g["n"] == rows.sum()
        assert g["centroid_gap"] == pytest.approx(geometry.centroid_gap(img[rows], txt[rows]), rel=1e-6)  # float32 input: ~1e-7
        assert g["paired_cosine"] == pytest.approx(geometry.paired_cosine(img[rows], txt[rows]), rel=1e-6)


def test_report_published_clip_gives_liang_gap(capsys, tmp_path):
    if not LIANG.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{LIANG} is missing (CI is set, so this cannot be skipped)")
        pytest.skip(f"{LIANG} is missing")
    out_json = tmp_path / "clip.json"
    rc, out, _ = run_cli(capsys, "report", "liang2022/clip", "--boot", "0", "--json", out_json)
    assert rc == 0
    assert _value(out, "centroid_gap") == pytest.approx(0.851, abs=5e-4)  # background.md: 0.851
    src = json.loads(out_json.read_text())["inputs"]["sources"][0]
    assert src["kind"] == "published" and src["sha256"] == gapkit.datasets.PUBLISHED_EMBEDDINGS["liang2022/clip"].sha256


def test_report_html_is_one_self_contained_page(capsys, npy_pair, tmp_path):
    a, b, img, txt = npy_pair
    page = tmp_path / "card.html"
    rc, _, _ = run_cli(capsys, "report", a, b, "--boot", "10", "--html", page)
    assert rc == 0
    text = page.read_text()
    assert text.count('src="data:image/png;base64,') == 2  # the PCA and the cosine distributions
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from the network
    assert "<td>centroid_gap</td>" in text and f"{geometry.centroid_gap(img, txt):.4g}" in text
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no litter


def test_version_help_and_python_m(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"gapkit {gapkit.__version__}"
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "examples:" in capsys.readouterr().out
    res = subprocess.run([sys.executable, "-m", "gapkit", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and "gapkit report" in res.stdout and "gapkit embed" in res.stdout


# --------------------------------------------------------------------------- bad input


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, what the one-line message must name)."""
    img, txt = _pairs(50, 8)
    np.save(tmp / "a.npy", img)
    np.save(tmp / "b.npy", txt)
    np.save(tmp / "short.npy", txt[:40])
    np.save(tmp / "vec.npy", txt[0])
    bad = txt.copy()
    bad[[3, 7]] = np.nan
    np.save(tmp / "nan.npy", bad)
    (tmp / "garbage.npy").write_bytes(b"not numpy at all")
    np.savez(tmp / "wrong.npz", x=img, y=txt)
    (tmp / "empty_dir").mkdir()
    (tmp / "half" / "shards").mkdir(parents=True)
    (tmp / "labels.txt").write_text("a\nb\n")
    (tmp / "notacard.json").write_text("{\"hello\": 1}")
    return {
        "missing file": (["report", tmp / "nope.npy", tmp / "b.npy"], "nope.npy"),
        "missing text file": (["report", tmp / "a.npy", tmp / "gone.npy"], "gone.npy"),
        "mismatched rows": (["report", tmp / "a.npy", tmp / "short.npy"], "short.npy"),
        "1-D array": (["report", tmp / "vec.npy", tmp / "b.npy"], "vec.npy"),
        "NaN rows": (["report", tmp / "a.npy", tmp / "nan.npy"], "nan.npy"),
        "not a .npy": (["report", tmp / "garbage.npy", tmp / "b.npy"], "garbage.npy"),
        "npz without image/text": (["report", tmp / "wrong.npz"], "wrong.npz"),
        "one .npy alone": (["report", tmp / "a.npy"], "a.npy"),
        "unknown published name": (["report", "liang2022/dall-e"], "liang2022/dall-e"),
        "unreadable folder": (["report", tmp / "empty_dir"], "empty_dir"),
        "unfinished folder": (["report", tmp / "half"], "half"),
        "labels of the wrong length": (["report", tmp / "a.npy", tmp / "b.npy", "--labels", tmp / "labels.txt"],
                                       "labels.txt"),
        "not a card": (["compare", tmp / "notacard.json"], "notacard.json"),
        "card missing": (["compare", tmp / "nocard.json"], "nocard.json"),
    }


BAD_CASES = ["missing file", "missing text file", "mismatched rows", "1-D array", "NaN rows", "not a .npy",
             "npz without image/text", "one .npy alone", "unknown published name", "unreadable folder",
             "unfinished folder", "labels of the wrong length", "not a card", "card missing"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_naming_the_file_exit_2(case, capsys, tmp_path):
    argv, names = _bad_inputs(tmp_path)[case]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err  # small inputs: no progress line before it
    assert lines[0].startswith(f"gapkit {argv[0]}: error: ") and names in lines[0], lines[0]
    assert out == ""


def test_every_bad_case_is_tested(tmp_path):
    assert sorted(_bad_inputs(tmp_path)) == sorted(BAD_CASES)


def test_nan_rows_named_with_their_positions(capsys, tmp_path):
    argv, _ = _bad_inputs(tmp_path)["NaN rows"]
    _, _, err = run_cli(capsys, *argv)
    assert "rows 3, 7" in err and "Drop the same rows from both" in err


def test_bad_input_from_the_console_has_no_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "gapkit", "report", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
    assert "x.npy" in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------------- compare


def test_compare_puts_cards_side_by_side(capsys, tmp_path):
    cards = []
    for gap in (0.5, 2.0):
        img, txt = _pairs(gap=gap)
        np.save(tmp_path / f"i{gap}.npy", img)
        np.save(tmp_path / f"t{gap}.npy", txt)
        cards.append(tmp_path / f"gap{gap}.json")
        assert run_cli(capsys, "report", tmp_path / f"i{gap}.npy", tmp_path / f"t{gap}.npy", "--boot", "0",
                       "--json", cards[-1])[0] == 0
    rc, out, _ = run_cli(capsys, "compare", *cards)
    assert rc == 0
    head, row = out.splitlines()[0], next(line for line in out.splitlines() if line.startswith("centroid_gap"))
    assert "i0.5" in head and "i2.0" in head
    values = [float(v) for v in row.split()[2:]]
    want = [GapReport.from_json(c)["centroid_gap"] for c in cards]
    assert values == pytest.approx(want, rel=1e-3) and values[0] < values[1]


# --------------------------------------------------------------------------- the embeddings folder


def _write_folder(folder: Path, parts: list[tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    records, start = [], 0
    for img, txt in parts:
        records.append(_folder.write_shard(folder, start, {"image": img, "text": txt}, {"model": "m"}))
        start += len(img)
    _folder.write_manifest(folder, records[::-1], start, parts[0][0].shape[1], {"model": "m", "data": "x"})
    return records


def test_folder_of_several_shards_reads_in_row_order(tmp_path, capsys):
    img, txt = _pairs(120, 8)
    _write_folder(tmp_path / "emb", [(img[:50], txt[:50]), (img[50:], txt[50:])])  # manifest sorts the shards
    arrays, manifest = _folder.read_folder(tmp_path / "emb")
    np.testing.assert_array_equal(arrays["image"], img)
    np.testing.assert_array_equal(arrays["text"], txt)
    assert [s["start"] for s in manifest["shards"]] == [0, 50]
    rc, out, _ = run_cli(capsys, "report", tmp_path / "emb", "--boot", "0")
    assert rc == 0 and _value(out, "centroid_gap") == pytest.approx(geometry.centroid_gap(img, txt), rel=1e-3)


@pytest.mark.parametrize("damage", ["corrupt", "missing", "gap"])
def test_folder_damage_is_named(tmp_path, damage):
    img, txt = _pairs(100, 8)
    recs = _write_folder(tmp_path / "emb", [(img[:50], txt[:50]), (img[50:], txt[50:])])
    shard = tmp_path / "emb" / recs[1]["files"]["text"]
    if damage == "corrupt":
        data = bytearray(shard.read_bytes())
        data[-1] ^= 0xFF
        shard.write_bytes(bytes(data))
    elif damage == "missing":
        shard.unlink()
    else:
        _folder.write_manifest(tmp_path / "emb", recs[1:], 100, 8, {})
    with pytest.raises(gapkit.cli.CLIError) as exc:
        _folder.read_folder(tmp_path / "emb")
    msg = str(exc.value)
    assert (shard.name in msg) if damage != "gap" else "do not cover rows 0 to 100" in msg
    assert "rerun" in msg


def test_embed_then_report_and_rerun_reuses(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "emb"
    argv = ["embed", "--model", "mini-clip", "--data", "shapes", "--n", "64", "--out", out, "--device", "cpu"]
    rc, stdout, err = run_cli(capsys, *argv)
    assert rc == 0 and stdout.strip() == str(out / "manifest.json") and "wrote 1 shard" in err
    arrays, manifest = _folder.read_folder(out)
    assert manifest["n"] == 64 and arrays["image"].shape == (64, manifest["d"]) and arrays["labels"].shape == (64,)
    enc = gapkit.load_encoder("mini-clip", dataset=gapkit.datasets.make_shapes(64, seed=0, n_described=3), seed=0,
                              device="cpu")
    img, txt = gapkit.cached_embed_dataset(enc, gapkit.datasets.make_shapes(64, seed=0, n_described=3))
    np.testing.assert_array_equal(arrays["image"], img)  # the cache's embeddings, row for row
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 0 and "reused 1 of 1 shards" in err
    rc, out_table, _ = run_cli(capsys, "report", out, "--boot", "0")
    assert rc == 0 and _value(out_table, "centroid_gap") == pytest.approx(geometry.centroid_gap(img, txt), rel=1e-3)
    assert "by label:" in out_table


def test_embed_refuses_a_foreign_folder_and_unknown_names(capsys, tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    rc, _, err = run_cli(capsys, "embed", "--model", "mini-clip", "--data", "shapes", "--out", tmp_path / "mine")
    assert rc == 2 and "mine" in err and "new folder" in err
    rc, _, err = run_cli(capsys, "embed", "--model", "mini-clip", "--data", "imagenet-22k", "--out", tmp_path / "o")
    assert rc == 2 and "imagenet-22k" in err and "shapes" in err


# --------------------------------------------------------------------------- out of core


def test_max_pairs_single_pass_metrics_use_every_pair():
    img, txt = _pairs(3000, 16)
    full = geometry.gap_report(img, txt, n_boot=100, seed=0)
    big = geometry.gap_report(img, txt, n_boot=100, seed=0, max_pairs=600)
    assert big.n == 3000 and big.params["subsample_pairs"] == 600
    for key in [("centroid_gap", "image-text"), ("paired_cosine", "image-text"), ("raw_gap", "image-text"),
                ("distribution_gap", "image-text"), ("relative_modality_gap", "image-text"),
                ("mean_resultant_length", "image"), ("mean_pairwise_cosine", "text")]:
        e, f = big.get(*key), full.get(*key)
        assert e.value == pytest.approx(f.value, rel=1e-6)  # on every pair, not the subsample (float32: ~1e-7)
        assert e.ci_low <= e.value <= e.ci_high and "rescaled" in e.method
        # the m-out-of-n interval has the full bootstrap's width (sampling error ~ n^-1/2)
        assert (e.ci_high - e.ci_low) == pytest.approx(f.ci_high - f.ci_low, rel=0.35)
    sub = big.get("effective_rank", "image")
    assert "subsample of 600 pairs" in sub.method
    assert set(big.params["subsampled_metrics"]) >= {"effective_rank", "uniformity", "linear_separability"}
    assert geometry.gap_report(img, txt, n_boot=10, max_pairs=5000).params.get("subsample_pairs") is None


def _memmaps(folder: Path, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    for name, shift in (("i", 1.0), ("t", -1.0)):
        mm = np.lib.format.open_memmap(folder / f"{name}{n}.npy", mode="w+", dtype=np.float32, shape=(n, d))
        for s in range(0, n, 50_000):
            mm[s:s + 50_000] = rng.normal(size=(min(50_000, n - s), d)) + shift
        del mm
    return tuple(np.load(folder / f"{name}{n}.npy", mmap_mode="r") for name in "it")


def _peak_alloc(img: np.ndarray, txt: np.ndarray) -> tuple[int, GapReport]:
    tracemalloc.start()
    card = geometry.gap_report(img, txt, n_boot=20, seed=0, spectral_boot=5, max_pairs=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, card


def test_max_pairs_on_a_memory_map_never_copies_it(tmp_path):
    """Four times the rows cost O(n) scalars more (per-pair cosines), never a copy of the (n, d) input."""
    small, big = _memmaps(tmp_path, 50_000, 64), _memmaps(tmp_path, 200_000, 64)  # 12.8 and 51.2 MB per modality
    (peak_small, _), (peak_big, card) = _peak_alloc(*small), _peak_alloc(*big)
    grown = big[0].nbytes - small[0].nbytes
    assert peak_big - peak_small < 0.2 * grown, f"{(peak_big - peak_small) / 2**20:.1f} MiB more for 4x the rows"
    ref = geometry.centroid_gap(np.asarray(big[0]), np.asarray(big[1]))
    assert card["centroid_gap"] == pytest.approx(ref, rel=1e-9)


def test_outputs_get_the_umask_permissions(capsys, npy_pair, tmp_path):
    a, b, _, _ = npy_pair
    old = os.umask(0o022)
    try:
        assert run_cli(capsys, "report", a, b, "--boot", "0", "--json", tmp_path / "c.json")[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o644  # not the atomic temporary's private 0600
