"""Published real embeddings (issue 13): the loader, its sources and checks, and the book's sections.

The numbers are Liang et al.'s published embeddings as measured in ``shared/background.md``. The
tests that need ``../shared/data/liang2022`` skip only on a machine that has neither that folder
nor the ``CI`` variable: in CI (where ``shared/`` sits beside the clone) they run or fail.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import math
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gapkit
from gapkit import geometry
from gapkit._io import CacheUnavailableWarning, CorruptFileWarning
from gapkit.contrastive import retrieval_accuracy
from gapkit.datasets import (
    PUBLISHED_EMBEDDINGS,
    PublishedDataError,
    PublishedDataUnavailableError,
    available_published_embeddings,
    glue_or_nan,
    load_published_embeddings,
    published_or_note,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LIANG = SHARED / "liang2022"
COMMIT = "8e20cb24efa4c5f89aad694f2f65eb43ffc46d10"
NAMES = ["liang2022/clip", "liang2022/clip-random", "liang2022/convirt", "liang2022/convirt-random",
         "liang2022/clasp", "liang2022/clasp-random", "liang2022/videoclip", "liang2022/videoclip-random"]


def _require(folder: Path, what: str) -> Path:
    """``../shared/data`` when it holds ``folder``; skip without it, except in CI, where its absence is a failure."""
    if not folder.is_dir():
        msg = f"{folder} is missing: the published {what} must sit beside the clone"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set, so this cannot be skipped)")
        pytest.skip(msg)
    return SHARED


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` with ``liang2022/``."""
    return _require(LIANG, "embeddings")


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No GAPKIT_DATA / GAPKIT_DATA_URL from the caller's environment; the cache in a fresh folder."""
    monkeypatch.delenv("GAPKIT_DATA", raising=False)
    monkeypatch.delenv("GAPKIT_DATA_URL", raising=False)
    monkeypatch.setenv("GAPKIT_CACHE", str(tmp_path / "gapkit-cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return tmp_path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


class _Mirror:
    """A loopback HTTP server on 127.0.0.1 serving ``root`` (a data-folder layout), in a thread.

    Counts the GET requests it answers; ``serve_forever`` polls every 0.1 s and the server is
    shut down on exit, so it never outlives the test.
    """

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> "_Mirror":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the catalogue


def test_every_name_is_listed_with_a_description():
    listed = available_published_embeddings()
    assert list(listed) == NAMES
    assert listed["liang2022/clip"] == ("OpenAI CLIP ViT-B/16, pretrained: 500 COCO val2017 image-caption pairs, "
                                        "d = 512")
    assert "random init" in listed["liang2022/convirt-random"] and "MIMIC-CXR" in listed["liang2022/convirt-random"]
    assert PUBLISHED_EMBEDDINGS["liang2022/clasp"].modalities == ("protein", "text")
    assert PUBLISHED_EMBEDDINGS["liang2022/videoclip"].modalities == ("video", "text")


def test_download_urls_are_pinned_to_the_source_commit():
    assert PUBLISHED_EMBEDDINGS["liang2022/clip"].upstream_url == (
        f"https://raw.githubusercontent.com/Weixin-Liang/Modality-Gap/{COMMIT}/Figure_1_Modality_Gap/features_clip.npy")


def test_pinned_hashes_match_the_shared_copies(shared_data):
    for spec in PUBLISHED_EMBEDDINGS.values():
        assert _sha(shared_data / "liang2022" / spec.file) == spec.sha256, spec.file


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown published embeddings 'liang2022/siglip'.*liang2022/clip"):
        load_published_embeddings("liang2022/siglip")
    with pytest.raises(ValueError, match="unknown published"):
        published_or_note("clip")
    with pytest.raises(ValueError, match="at least one"):
        published_or_note()


def test_gapkit_exports_the_loader_lazily():
    assert gapkit.load_published_embeddings is load_published_embeddings
    assert gapkit.available_published_embeddings is available_published_embeddings


# --------------------------------------------------------------------------- the shared folder: real numbers

# background.md, measured after L2 normalisation (values to the digits given there)
EXPECTED = {
    "liang2022/clip": dict(gap=0.851, paired_cosine=0.310, r=(0.73, 0.72), mpc=(0.53, 0.52), i2t=0.55),
    "liang2022/clip-random": dict(gap=1.136, paired_cosine=0.029, r=(0.83, 0.82), mpc=(0.68, 0.66), i2t=0.00),
    "liang2022/convirt": dict(gap=0.823, paired_cosine=0.255, r=(0.87, 0.37)),
    "liang2022/convirt-random": dict(gap=1.403, r=(0.998, 0.949)),
    "liang2022/clasp": dict(gap=1.045),
    "liang2022/videoclip": dict(gap=1.067),
}


def _close(value: float, published: float) -> bool:
    """Within one unit of the last digit ``published`` is given to (background.md rounds loosely:
    the random CLIP's text R is 0.8149, given as 0.82)."""
    digits = len(repr(published).split(".")[1]) if "." in repr(published) else 0
    return abs(value - published) <= 10 ** -digits + 1e-9


@pytest.mark.parametrize("name", list(EXPECTED))
def test_loaded_embeddings_have_the_published_geometry(shared_data, no_env, name):
    emb = load_published_embeddings(name, data_dir=shared_data)
    spec = PUBLISHED_EMBEDDINGS[name]
    assert emb.embeddings.shape == (2, spec.n, spec.d) and emb.embeddings.dtype == np.float32
    v, t = emb.pair
    want = EXPECTED[name]
    assert _close(geometry.centroid_gap(v, t), want["gap"]), geometry.centroid_gap(v, t)
    if "paired_cosine" in want:
        assert _close(geometry.paired_cosine(v, t), want["paired_cosine"])
    if "r" in want:
        r = (geometry.mean_resultant_length(v), geometry.mean_resultant_length(t))
        assert all(_close(a, b) for a, b in zip(r, want["r"])), r
    if "mpc" in want:
        c = (geometry.mean_pairwise_cosine(v), geometry.mean_pairwise_cosine(t))
        assert all(_close(a, b) for a, b in zip(c, want["mpc"])), c
    if "i2t" in want:
        assert _close(retrieval_accuracy(v, t), want["i2t"])


def test_modality_accessors_read_well(shared_data, no_env):
    clip = load_published_embeddings("liang2022/clip", data_dir=shared_data)
    raw = np.load(shared_data / "liang2022" / "features_clip.npy")
    assert clip.modalities == ("image", "text")
    np.testing.assert_array_equal(clip.image, raw[0])
    np.testing.assert_array_equal(clip.text, raw[1])
    v, t = clip.pair
    for a, b in ((clip.first, raw[0]), (clip["image"], raw[0]), (clip["text"], raw[1]), (v, raw[0]), (t, raw[1])):
        np.testing.assert_array_equal(a, b)
    assert np.shares_memory(clip.image, clip.embeddings)  # views, not copies
    with pytest.raises(ValueError, match="read-only"):
        clip.image[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        clip.path = Path("elsewhere")
    with pytest.raises(AttributeError, match="image and text embeddings, not video; use .image"):
        clip.video
    clasp = load_published_embeddings("liang2022/clasp", data_dir=shared_data)
    assert clasp.modalities == ("protein", "text") and clasp.protein.shape == (99, 768)
    with pytest.raises(AttributeError, match="protein and text embeddings, not image"):
        clasp.image
    with pytest.raises(KeyError, match="not 'image'"):
        clasp["image"]
    assert load_published_embeddings("liang2022/videoclip", data_dir=shared_data).video.shape == (100, 768)
    text = clip.description
    for part in ("CLIP ViT-B/16", "pretrained", "500", "COCO val2017", "d = 512", "Liang et al. (2022)",
                 f"Modality-Gap@{COMMIT[:7]}", "features_clip.npy", "MIT licence"):
        assert part in text, part
    assert repr(clip) == "PublishedEmbeddings('liang2022/clip', image+text, n=500, d=512)"


def test_gapkit_data_is_a_path_list(shared_data, no_env, monkeypatch):
    monkeypatch.setenv("GAPKIT_DATA", os.pathsep.join([str(no_env / "nothing-here"), "", str(shared_data)]))
    emb = load_published_embeddings("liang2022/convirt")
    assert emb.path == shared_data / "liang2022" / "features_convirt.npy"
    assert not (no_env / "gapkit-cache").exists()  # a local copy: nothing cached, nothing downloaded


def test_the_first_folder_that_holds_the_file_wins(shared_data, no_env):
    first = no_env / "first" / "liang2022"
    first.mkdir(parents=True)
    shutil.copy(shared_data / "liang2022" / "features_clip.npy", first)
    emb = load_published_embeddings("liang2022/clip", data_dir=[no_env / "first", shared_data])
    assert emb.path == first / "features_clip.npy"


def test_split_keeps_pairs_together_and_is_seeded(shared_data, no_env):
    clip = load_published_embeddings("liang2022/clip", data_dir=shared_data)
    train, test = clip.split(test_size=0.5, seed=42)
    assert (train.n, test.n) == (250, 250)
    rows = {r.tobytes(): i for i, r in enumerate(clip.image)}
    idx_tr = [rows[r.tobytes()] for r in train.image]
    idx_te = [rows[r.tobytes()] for r in test.image]
    assert not set(idx_tr) & set(idx_te) and sorted(idx_tr + idx_te) == list(range(500))
    np.testing.assert_array_equal(test.text, clip.text[idx_te])  # text i travels with image i
    again = clip.split(test_size=0.5, seed=42)[1]
    np.testing.assert_array_equal(again.image, test.image)
    assert not np.array_equal(clip.split(test_size=0.5, seed=0)[1].image, test.image)
    assert "test split: 250 held-out pairs (seed 42)" in test.description
    assert not test.image.flags.writeable
    with pytest.raises(ValueError, match=r"test_size=1.0 is not valid.*\(0, 1\)"):
        clip.split(test_size=1.0)
    with pytest.raises(ValueError, match="seed=-1 is not valid"):
        clip.split(seed=-1)
    with pytest.raises(ValueError, match="integer pair indices"):
        clip.take([0.5])


# --------------------------------------------------------------------------- what is not the published file


def test_a_corrupted_local_copy_is_an_error_naming_the_file_and_both_hashes(shared_data, no_env):
    bad = no_env / "data" / "liang2022"
    bad.mkdir(parents=True)
    data = bytearray((shared_data / "liang2022" / "features_clip.npy").read_bytes())
    data[-1] ^= 0xFF  # one float of one embedding changed
    (bad / "features_clip.npy").write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    pinned = PUBLISHED_EMBEDDINGS["liang2022/clip"].sha256
    with pytest.raises(PublishedDataError) as err:
        load_published_embeddings("liang2022/clip", data_dir=no_env / "data")
    msg = str(err.value)
    assert "features_clip.npy" in msg and actual in msg and pinned in msg
    # the book's helper never hides it behind a note
    with pytest.raises(PublishedDataError, match=actual):
        published_or_note("liang2022/clip", data_dir=no_env / "data")


def _fake_spec(monkeypatch, tmp: Path, array: np.ndarray, name: str = "liang2022/fake"):
    path = tmp / "liang2022" / "features_fake.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    spec = dataclasses.replace(PUBLISHED_EMBEDDINGS["liang2022/clip"], name=name, file=path.name,
                               sha256=_sha(path), n=4, d=3)
    monkeypatch.setitem(PUBLISHED_EMBEDDINGS, name, spec)
    return name


def test_shape_and_values_are_validated(no_env, monkeypatch):
    ok = np.ones((2, 4, 3), np.float32)
    assert load_published_embeddings(_fake_spec(monkeypatch, no_env / "a", ok), data_dir=no_env / "a").n == 4
    name = _fake_spec(monkeypatch, no_env / "b", np.ones((4, 3), np.float32))
    with pytest.raises(PublishedDataError, match=r"shape \(2, 4, 3\).*\(4, 3\)"):
        load_published_embeddings(name, data_dir=no_env / "b")
    nan = ok.copy()
    nan[1, 2, 0] = np.nan
    name = _fake_spec(monkeypatch, no_env / "c", nan)
    with pytest.raises(PublishedDataError, match="1 entries are NaN or inf"):
        load_published_embeddings(name, data_dir=no_env / "c")


# --------------------------------------------------------------------------- offline


def test_offline_without_a_copy_fails_fast_and_says_what_to_do(no_env):
    base = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(PublishedDataUnavailableError) as err:
        load_published_embeddings("liang2022/clip", data_dir=[no_env / "empty"], url_base=base)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert "features_clip.npy" in msg and f"{base}/liang2022/features_clip.npy" in msg
    assert "GAPKIT_DATA=<folder>" in msg and str(no_env / "empty") in msg
    assert not any((no_env / "gapkit-cache").rglob("*.npy"))


def test_a_server_that_never_answers_times_out(no_env):
    with socket.socket() as listener:  # accepts connections (kernel backlog) and never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        t0 = time.perf_counter()
        with pytest.raises(PublishedDataUnavailableError, match="Timeout"):
            load_published_embeddings("liang2022/clip", url_base=base, timeout=0.5)
        assert time.perf_counter() - t0 < 4


def test_download_false_names_the_pinned_url(no_env):
    with pytest.raises(PublishedDataUnavailableError, match=re.escape(COMMIT) + ".*GAPKIT_DATA is not set"):
        load_published_embeddings("liang2022/clip", download=False)


# --------------------------------------------------------------------------- the download path (loopback)


@pytest.fixture
def mirror_root(shared_data, tmp_path) -> Path:
    root = tmp_path / "mirror"
    (root / "liang2022").mkdir(parents=True)
    for f in ("features_clip.npy", "features_convirt.npy"):
        shutil.copy(shared_data / "liang2022" / f, root / "liang2022")
    return root


def test_download_from_a_loopback_mirror_is_cached_atomically_and_reused(shared_data, mirror_root, no_env,
                                                                          monkeypatch):
    cache = no_env / "gapkit-cache" / "published" / "liang2022"  # the default: gapkit's cache root
    reference = load_published_embeddings("liang2022/clip", data_dir=shared_data)
    with _Mirror(mirror_root) as mirror:
        monkeypatch.setenv("GAPKIT_DATA_URL", mirror.url)  # the override by environment
        emb = load_published_embeddings("liang2022/clip")
        assert mirror.requests == ["/liang2022/features_clip.npy"]
        np.testing.assert_array_equal(emb.embeddings, reference.embeddings)
        assert emb.path == cache / "features_clip.npy"
        assert sorted(p.name for p in cache.iterdir()) == ["features_clip.npy"]  # no temporary file left
        again = load_published_embeddings("liang2022/clip")
        assert len(mirror.requests) == 1  # the cache was used
        np.testing.assert_array_equal(again.embeddings, reference.embeddings)
        # a damaged cache entry is fetched again, not used
        (cache / "features_clip.npy").write_bytes(b"not an array")
        with pytest.warns(CorruptFileWarning, match="cached published embeddings features_clip.npy"):
            third = load_published_embeddings("liang2022/clip")
        assert len(mirror.requests) == 2
        np.testing.assert_array_equal(third.embeddings, reference.embeddings)
        # the override by argument, into an explicit cache folder
        other = load_published_embeddings("liang2022/convirt", url_base=mirror.url + "/", cache_dir=no_env / "c2")
        assert mirror.requests[-1] == "/liang2022/features_convirt.npy"
        assert sorted(p.name for p in (no_env / "c2").iterdir()) == ["features_convirt.npy"]
        assert math.isclose(geometry.centroid_gap(*other.pair), 0.823, abs_tol=5e-4)


def test_a_download_with_the_wrong_bytes_is_not_kept(mirror_root, no_env):
    path = mirror_root / "liang2022" / "features_clip.npy"
    data = bytearray(path.read_bytes())
    data[200] ^= 0x01
    path.write_bytes(bytes(data))
    cache = no_env / "cache"
    with _Mirror(mirror_root) as mirror:
        with pytest.raises(PublishedDataError) as err:
            load_published_embeddings("liang2022/clip", url_base=mirror.url, cache_dir=cache)
    msg = str(err.value)
    assert hashlib.sha256(bytes(data)).hexdigest() in msg and PUBLISHED_EMBEDDINGS["liang2022/clip"].sha256 in msg
    assert f"{mirror.url}/liang2022/features_clip.npy" in msg
    assert not cache.exists() or list(cache.iterdir()) == []  # neither the file nor a temporary one


def test_an_unwritable_cache_still_returns_the_download(shared_data, mirror_root, no_env):
    not_a_folder = no_env / "cache-is-a-file"
    not_a_folder.write_text("")
    with _Mirror(mirror_root) as mirror:
        with pytest.warns(CacheUnavailableWarning, match="features_clip.npy not cached"):
            emb = load_published_embeddings("liang2022/clip", url_base=mirror.url, cache_dir=not_a_folder / "sub")
    reference = load_published_embeddings("liang2022/clip", data_dir=shared_data)
    np.testing.assert_array_equal(emb.embeddings, reference.embeddings)
    assert not emb.embeddings.flags.writeable and not emb.path.exists()


def test_bad_parameters_are_named(no_env):
    with pytest.raises(ValueError, match=r"timeout=0 is not valid.*> 0"):
        load_published_embeddings("liang2022/clip", timeout=0)
    with pytest.raises(ValueError, match="download='no' is not valid"):
        load_published_embeddings("liang2022/clip", download="no")
    with pytest.raises(ValueError, match="name=3 is not valid"):
        load_published_embeddings(3)


def test_a_missing_file_on_the_server_is_unavailable(mirror_root, no_env):
    with _Mirror(mirror_root) as mirror:
        with pytest.raises(PublishedDataUnavailableError, match=r"HTTPError: 404.*features_clasp.npy"):
            load_published_embeddings("liang2022/clasp", url_base=mirror.url)


# --------------------------------------------------------------------------- the book's helpers


def test_published_or_note_returns_a_falsy_set_with_the_remedy_when_offline(no_env, capsys):
    base = f"http://127.0.0.1:{_closed_port()}"
    real = published_or_note("liang2022/clip", "liang2022/convirt", url_base=base)
    assert not real and not real.available and len(real) == 0 and "liang2022/clip" not in real
    assert "features_clip.npy" in real.reason and "GAPKIT_DATA" in real.reason
    assert capsys.readouterr().out.startswith("Published embeddings unavailable: features_clip.npy")
    (line,) = real.provenance
    assert "liang2022/clip, liang2022/convirt unavailable" in line and "GAPKIT_DATA" in line
    html = real.note_object("The cone section")._repr_html_()
    assert 'class="admonition warning"' in html and "The cone section uses" in html and "GAPKIT_DATA" in html
    with pytest.raises(PublishedDataUnavailableError, match="unavailable"):
        real["liang2022/clip"]


def test_published_or_note_fails_when_the_data_folder_is_there_but_incomplete(no_env):
    (no_env / "data" / "liang2022").mkdir(parents=True)  # the folder exists, the file does not
    base = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PublishedDataUnavailableError, match="must use it"):
        published_or_note("liang2022/clip", data_dir=no_env / "data", url_base=base)


def test_published_or_note_loads_every_name(shared_data, no_env):
    real = published_or_note("liang2022/clip", "liang2022/clip-random", data_dir=shared_data)
    assert real and list(real) == ["liang2022/clip", "liang2022/clip-random"]
    assert real["liang2022/clip-random"].label == "CLIP ViT-B/16 (random init)"
    assert real.provenance == [real[n].description for n in real.names]


def test_glue_or_nan(monkeypatch):
    glued = []
    monkeypatch.setattr("gapkit.notebook.glue", lambda name, value, display=True: glued.append((name, value, display)))
    glue_or_nan({"a": 1.5, "b": np.float64(2.0)}, ["a", "b"])
    assert glued == [("a", 1.5, False), ("b", 2.0, False)]
    assert type(glued[1][1]) is float  # not np.float64, whose repr the book's {glue:text} cannot format
    glued.clear()
    glue_or_nan(None, ["a", "b"])
    assert [n for n, *_ in glued] == ["a", "b"] and all(math.isnan(v) for _, v, _ in glued)
    with pytest.raises(ValueError, match=r"missing \['b'\], not declared \['c'\]"):
        glue_or_nan({"a": 1.0, "c": 2.0}, ["a", "b"])


# --------------------------------------------------------------------------- the book's real-model sections

SITE_CHAPTERS = ROOT / "_build" / "site" / "chapters"
#: chapter -> (section label, glue keys the section's prose and figures rely on; "*_pca" is a figure)
BOOK_SECTIONS = {
    "01_cone_effect": ("real-cones", ("real_clip_pca", "real_pc1_image_side", "real_clip_trained_gap",
                                      "real_clip_trained_paired", "real_convirt_trained_r_text",
                                      "real_clip_liang_diff")),
    "03_measuring_the_gap": ("real-gap-card", ("card_clip_gap", "card_gap_min", "card_mini_gap", "card_tower_gap",
                                               "real_curve_gap_w_large")),
    "04_lambda_shift": ("lambda-real", ("real_lam_clip_gap1", "real_lam_convirt_gap1", "real_lam_clip_i2t0",
                                        "real_lam_clip_i2t1", "real_lam_clip_t2i1", "real_lam_offset_range")),
    "07_robustness": ("robust-real", ("rob_real_flip0", "rob_real_flip_lam", "rob_real_flip_full", "rob_real_flip_90",
                                      "rob_real_changed_orth_max")),
}
FRONT_PAGE_FIGURE = ("01_cone_effect", "real_clip_pca")


@pytest.mark.parametrize("chapter", list(BOOK_SECTIONS))
def test_each_real_model_section_is_in_its_chapter(chapter):
    """The sections exist in the sources: label, loader and provenance, their keys in the prose, a claim check."""
    label_, keys = BOOK_SECTIONS[chapter]
    text = (ROOT / "chapters" / f"{chapter}.md").read_text()
    section = text.split(f"({label_})=", 1)
    assert len(section) == 2, f"{chapter}: section label ({label_})= is missing"
    body = section[1].split("\n## ", 2)
    body = body[0] + "\n## " + body[1]  # from the label to the next top-level section
    assert "published_or_note(" in text and "real.provenance" in text, f"{chapter}: no loader / provenance"
    assert "claim(" in body, f"{chapter}: the section's sentences have no hidden claim check"
    for key in keys:
        if key.endswith("_pca"):
            assert f'glue("{key}", fig, display=True)' in body
            continue
        assert re.search(rf"{{glue:text}}`{key}(:[^`]*)?`", body), f"{chapter}: prose never shows {key}"
    # that each key is glued (keys are built in loops) is checked on the executed notebook below


def test_the_front_page_pastes_the_real_clip_picture():
    text = (ROOT / "chapters" / "index.md").read_text()
    chapter, key = FRONT_PAGE_FIGURE
    assert re.search(rf"```{{glue}} {key}\n:doc: {chapter}.ipynb\n```", text)
    assert f"{chapter}.ipynb::real_clip_trained_gap" in text


def _glued(nb: dict) -> dict[str, dict]:
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                out[name] = o.get("data", {})
    return out


def _plain(data: dict) -> str:
    return next(v for k, v in data.items() if k.endswith("text/plain"))


@pytest.mark.parametrize("chapter", list(BOOK_SECTIONS))
def test_executed_chapters_show_the_real_model_sections(chapter, shared_data):
    """On the executed notebooks (``scripts/book.py execute``; skipped before a build or when the
    notebook is older than its source): every key glued, finite, and the figures there.

    The executed chapter is only written when every cell ran, and with the data folder present
    ``published_or_note`` raises instead of showing a note, so a build with ``../shared`` cannot
    lose a section silently; this test also catches the sections' numbers being NaN.
    """
    path = SITE_CHAPTERS / f"{chapter}.ipynb"
    source = ROOT / "chapters" / f"{chapter}.md"
    if not path.exists():
        pytest.skip(f"{path} not built (run scripts/book.py execute)")
    if path.stat().st_mtime < source.stat().st_mtime:
        pytest.skip(f"{path} is older than {source}")
    nb = json.loads(path.read_text())
    outputs = json.dumps(nb)
    glued = _glued(nb)
    assert "Published embeddings unavailable" not in outputs, f"{chapter} was built without the published data"
    for key in BOOK_SECTIONS[chapter][1]:
        assert key in glued, f"{chapter}: {key} not glued"
        if key.endswith("_pca"):
            assert "image/png" in glued[key], f"{chapter}: {key} is not a figure"
        else:
            assert math.isfinite(float(_plain(glued[key]))), f"{chapter}: {key} = {_plain(glued[key])}"


# --------------------------------------------------------------------------- published result tables (issue 25)

RESTREPO = SHARED / "restrepo2026"
RUNS = "Images/Alignment_early_linear_5runs_batch512"


@pytest.fixture
def restrepo_data() -> Path:
    """``../shared/data`` with ``restrepo2026/``."""
    return _require(RESTREPO, "results")


def test_result_hashes_are_pinned_from_the_shared_sums(restrepo_data):
    from gapkit._published_results import _CONE_FILE, _METRIC_FILES

    sums = dict(reversed(line.split("  ", 1)) for line in (RESTREPO / "SHA256SUMS").read_text().splitlines())
    files = (*_METRIC_FILES, _CONE_FILE)
    assert len(_METRIC_FILES) == 16 and len({f.file for f in files}) == 17
    for f in files:
        assert f.sha256 == sums[f.file] == _sha(RESTREPO / f.file), f.file
        assert f.upstream_url == f"https://raw.githubusercontent.com/dsrestrepo/Embedding-Alignment/{f.commit}/{f.file}"
    mimic = {f.model for f in _METRIC_FILES if f.commit == "02dd010455f8e56a0d5c06e520bf6b2b86ed5614"}
    assert mimic == {"CLIP", "BioMedCLIP"} and all("/mimic/" in f.file for f in _METRIC_FILES if f.model in mimic
                                                    and f.dataset == "MIMIC-CXR")


def test_results_from_a_local_copy_match_the_readme(restrepo_data, no_env):
    from gapkit.datasets import load_published_results

    res = load_published_results("restrepo2026", data_dir=restrepo_data)
    assert list(res.columns) == ["dataset", "domain", "model", "lam", "metric", "mean", "std", "n_seeds"]
    assert len(res) == 16 * 11 * 3 and set(res["n_seeds"]) == {5} and set(res["domain"]) == {"medical"}
    assert not res.duplicated(["dataset", "model", "lam", "metric"]).any()
    assert sorted(res["lam"].unique()) == pytest.approx([i / 10 for i in range(11)])
    auc = res[res.metric == "auc"].set_index(["dataset", "model", "lam"])["mean"]
    # the README's quoted AUCs, lambda = 0 -> lambda = 1 (4 decimals)
    for (ds, model), (a0, a1) in {("BRSET", "CLIP"): (.8732, .8790), ("BRSET", "SigLIP"): (.9050, .9137),
                                  ("BRSET", "BioMedCLIP"): (.8672, .8691), ("BRSET", "MedSigLIP"): (.9851, .9857),
                                  ("HAM10000", "CLIP"): (.7539, .7646), ("HAM10000", "SigLIP"): (.7590, .7818),
                                  ("MIMIC-CXR", "CLIP"): (.8399, .8449)}.items():
        assert auc[ds, model, 0.0] == pytest.approx(a0, abs=1e-4) and auc[ds, model, 1.0] == pytest.approx(a1, abs=1e-4)
    # one value read straight from the file, and "the best lambda is 1.0 in 11 of the 16 pairs"
    raw = json.loads((RESTREPO / RUNS / "ham10000/CLIP/metrics.json").read_text())
    row = res[(res.dataset == "HAM10000") & (res.model == "CLIP") & (res.lam == 0.1) & (res.metric == "macro_f1")]
    assert row["mean"].item() == raw["early_(0.1)"]["mean"]["Macro-F1"]
    assert row["std"].item() == raw["early_(0.1)"]["std"]["Macro-F1"]
    best = auc.groupby(level=["dataset", "model"]).idxmax().map(lambda k: k[2])
    assert len(best) == 16 and int((best == 1.0).sum()) == 11


def test_the_cone_table_parses_to_the_papers_values(restrepo_data, no_env):
    from gapkit.datasets import load_published_results

    cone = load_published_results("restrepo2026/cone", data_dir=restrepo_data)
    assert list(cone.columns) == ["dataset", "domain", "model", "modality", "R"] and len(cone) == 64
    r = cone.set_index(["dataset", "model", "modality"])["R"]
    assert r["MIMIC-CXR", "CLIP", "text"] == 0.915 and r["DAQUAR", "MedSigLIP", "image"] == 0.790
    assert r["HAM10000", "MedSigLIP", "text"] == 0.970 and r["Fakeddit", "MedSigLIP", "text"] == 0.604
    med = cone[(cone.domain == "medical") & (cone.modality == "image")]
    # background.md: medical image R .91-.99 except MedSigLIP .73-.86; natural .60-.86
    assert med[med.model != "MedSigLIP"]["R"].between(0.91, 0.99).all()
    assert med[med.model == "MedSigLIP"]["R"].between(0.73, 0.86).all()
    assert set(cone[cone.domain == "natural"]["dataset"]) == {"COCO-QA", "Fakeddit", "Recipes5k", "DAQUAR"}


def test_a_corrupted_result_file_is_an_error_naming_it_and_both_hashes(restrepo_data, no_env):
    from gapkit.datasets import load_published_results

    bad = no_env / "data" / "restrepo2026"
    shutil.copytree(RESTREPO, bad)
    path = bad / RUNS / "mbrset/SigLIP/metrics.json"
    text = path.read_text().replace("0.7", "0.8", 1)  # one digit of one number changed
    path.write_text(text)
    with pytest.raises(PublishedDataError) as err:
        load_published_results("restrepo2026", data_dir=no_env / "data")
    msg = str(err.value)
    assert "mbrset/SigLIP/metrics.json" in msg and hashlib.sha256(text.encode()).hexdigest() in msg
    assert "38baaf8ee53b0e15a14c12105c5799731926951b3bc0f40c8aa9ffe658cd6356" in msg


def test_result_files_with_the_pinned_hash_but_wrong_content_are_refused(no_env, monkeypatch, tmp_path):
    import gapkit._published_results as pr

    cone = tmp_path / "restrepo2026" / pr._CONE_FILE.file
    cone.parent.mkdir(parents=True)
    cone.write_text("no tables here")
    monkeypatch.setattr(pr, "_CONE_FILE", dataclasses.replace(pr._CONE_FILE, sha256=_sha(cone)))
    with pytest.raises(PublishedDataError, match="one text and one image table"):
        pr.load_published_results("restrepo2026/cone", data_dir=tmp_path)
    spec = pr._METRIC_FILES[0]
    path = tmp_path / "restrepo2026" / spec.file
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"early_(0)": {"mean": {"Acc": 1, "Macro-F1": 1, "AUC": float("nan")},
                                              "std": {"Acc": 0, "Macro-F1": 0, "AUC": 0}}}))
    monkeypatch.setattr(pr, "_METRIC_FILES", (dataclasses.replace(spec, sha256=_sha(path)),))
    with pytest.raises(PublishedDataError, match="no finite mean and std of 'AUC'"):
        pr.load_published_results("restrepo2026", data_dir=tmp_path)


def test_results_offline_without_a_copy_fail_fast_and_say_what_to_do(no_env):
    from gapkit.datasets import load_published_results

    base = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(PublishedDataUnavailableError) as err:
        load_published_results("restrepo2026/cone", data_dir=[no_env / "empty"], url_base=base)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert f"{base}/restrepo2026/Images/Summary/all_datasets_tables_latex.txt" in msg
    assert "GAPKIT_DATA=<folder>" in msg and str(no_env / "empty") in msg
    with pytest.raises(PublishedDataUnavailableError, match="dd7572da003c34ba251dd70fbf26eba731a94fd6.*GAPKIT_DATA"):
        load_published_results("restrepo2026/cone", download=False)
    with pytest.raises(ValueError, match="unknown published results 'restrepo'.*restrepo2026/cone"):
        load_published_results("restrepo")


def test_results_download_from_a_loopback_mirror_is_cached_flat_and_reused(restrepo_data, no_env, monkeypatch):
    from gapkit.datasets import load_published_results

    mirror_root = no_env / "mirror"
    shutil.copytree(RESTREPO, mirror_root / "restrepo2026")
    reference = load_published_results("restrepo2026", data_dir=restrepo_data)
    cache = no_env / "gapkit-cache" / "published" / "restrepo2026"
    with _Mirror(mirror_root) as mirror:
        monkeypatch.setenv("GAPKIT_DATA_URL", mirror.url)
        res = load_published_results("restrepo2026")
        assert len(mirror.requests) == 16 and all(r.startswith(f"/restrepo2026/{RUNS}/") for r in mirror.requests)
        assert res.equals(reference)
        assert sorted(p.name for p in cache.iterdir())[:2] == ["brset__BioMedCLIP__metrics.json",
                                                              "brset__CLIP__metrics.json"]
        assert len(list(cache.iterdir())) == 16 and all(p.is_file() for p in cache.iterdir())  # no temporaries
        assert load_published_results("restrepo2026").equals(reference) and len(mirror.requests) == 16
        # a damaged cache entry is fetched again
        (cache / "ham10000__CLIP__metrics.json").write_text("{}")
        with pytest.warns(CorruptFileWarning, match="ham10000__CLIP__metrics.json"):
            assert load_published_results("restrepo2026").equals(reference)
        assert mirror.requests[-1] == f"/restrepo2026/{RUNS}/ham10000/CLIP/metrics.json" and len(mirror.requests) == 17
        cone = load_published_results("restrepo2026/cone", url_base=mirror.url, cache_dir=no_env / "c2")
        assert [p.name for p in (no_env / "c2").iterdir()] == ["Images__Summary__all_datasets_tables_latex.txt"]
        assert cone.equals(load_published_results("restrepo2026/cone", data_dir=restrepo_data))


def test_published_results_or_none_for_the_book(restrepo_data, no_env, capsys):
    from gapkit.datasets import published_results_or_none

    base = f"http://127.0.0.1:{_closed_port()}"
    assert published_results_or_none("restrepo2026/cone", data_dir=[no_env / "empty"], url_base=base) is None
    assert "Published results unavailable" in capsys.readouterr().out
    half = no_env / "half"
    (half / "restrepo2026").mkdir(parents=True)  # the collection's folder is there but empty: an error, not a note
    with pytest.raises(PublishedDataUnavailableError, match="must use it"):
        published_results_or_none("restrepo2026/cone", data_dir=half, url_base=base)
    assert len(published_results_or_none("restrepo2026/cone", data_dir=restrepo_data)) == 64
