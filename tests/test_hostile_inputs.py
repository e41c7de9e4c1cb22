"""Hostile inputs: data taken as something it is not must be rejected, naming the row and the fix (issue 14).

Missing captions (None, NaN) used to become the strings "None"/"nan"; a dict caption its key; an
empty caption an embedding of nothing; a float image holding 0-255 values was read as 0-1; NaN
pixels gave NaN embeddings that the cache stored; a test class never seen in training silently
added an output; a path string passed as ``records`` was iterated character by character; and
``caption_index=-1`` with ``label="person"`` read the kept caption into its own label.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gapkit import datasets as gds
from gapkit import train
from gapkit.cache import EmbeddingCache, cached_embed

IMG = np.zeros((8, 8, 3), dtype=np.uint8)


def _rows(captions):
    return [{"image": IMG, "answer": c} for c in captions]


def _load(captions, **kw):
    return gds.load_captions("coco", records=_rows(captions), image_size=None, **kw)


def _mentions_row(msg, i):
    return re.search(rf"\brows? {i}\b|\brow\(s\) {i}\b|\[{i}\]|\brows? \[?{i}\b", msg) is not None


# --------------------------------------------------------------------------- captions


@pytest.mark.parametrize("bad,what", [
    (None, "None"), (float("nan"), "nan"), ({"text": "a cat"}, "dict"), ("", "empty"), ("   ", "empty"),
    (["a cat", None], "None"), (["a cat", ""], "empty"), ([], "no caption"), (42, "int"),
], ids=["None", "NaN", "dict", "empty", "blank", "list-with-None", "list-with-empty", "empty-list", "int"])
def test_load_captions_rejects_captions_that_are_not_text(bad, what):
    caps = [["a cat on a mat", "a man", "a dog"], bad, ["a bird", "a woman", "a tree"]]
    with pytest.raises(ValueError) as info:
        _load(caps)
    msg = str(info.value)
    assert _mentions_row(msg, 1), msg
    assert re.search(r"drop|fill|remove|pass|fix", msg, re.I), msg


def test_caption_index_negative_indexes_like_python_and_label_never_reads_the_kept_caption():
    caps = [["a red car", "a blue car", "a man in a car"],        # only the last caption names a person
            ["a man", "a cat", "a dog on a sofa"],
            ["a tree", "a house", "a cat"],
            ["a woman", "a girl", "a boy"]]
    ds = _load(caps, caption_index=-1, label="person")
    assert ds.texts == [c[-1] for c in caps]
    # row 0: the person is named only in the kept caption, so the label (other captions) must be 0
    assert ds.labels.tolist() == [0, 1, 0, 1]
    ds2 = _load(caps, caption_index=-2, label="person")
    assert ds2.texts == [c[-2] for c in caps]
    assert ds2.labels.tolist() == [1, 1, 0, 1]


@pytest.mark.parametrize("index", [3, 10, -4])
def test_caption_index_out_of_range_is_an_error_not_a_clamp(index):
    caps = [["a", "b", "c"], ["d", "e", "f"]]
    with pytest.raises(ValueError, match=r"caption_index"):
        _load(caps, caption_index=index)


def test_caption_index_on_a_string_column():
    assert _load(["a cat", "a dog"], caption_index=-1).texts == ["a cat", "a dog"]
    with pytest.raises(ValueError, match=r"caption_index"):
        _load(["a cat", "a dog"], caption_index=1)


@pytest.mark.parametrize("records", ["/data/coco.parquet", b"/data/coco.parquet", {"image": [IMG], "answer": ["x"]}],
                         ids=["str-path", "bytes-path", "dict-of-columns"])
def test_records_that_are_not_rows_are_rejected(records, tmp_path):
    with pytest.raises((ValueError, TypeError)) as info:
        gds.load_captions("coco", records=records, image_size=None)
    msg = str(info.value)
    assert "records" in msg and "available: ['/']" not in msg, msg
    assert re.search(r"DataFrame|list of dict", msg), msg


def test_records_path_object_is_rejected_for_ham10000(tmp_path):
    with pytest.raises((ValueError, TypeError), match=r"records"):
        gds.load_ham10000(records=str(tmp_path / "ham.csv"))


def test_paired_dataset_rejects_texts_that_are_not_strings():
    with pytest.raises((ValueError, TypeError)) as info:
        gds.PairedDataset(images=np.zeros((3, 4, 4, 3), np.uint8), texts=["a", None, "c"],
                          labels=np.zeros(3, int), label_names=["x"], name="t")
    assert _mentions_row(str(info.value), 1)


# --------------------------------------------------------------------------- images

def _ham_rows(images):
    return [{"image": im, "dx": "nv", "dx_type": "histo", "age": 40.0, "sex": "male", "localization": "back"}
            for im in images]


GOOD = np.full((6, 6, 3), 128, dtype=np.uint8)


@pytest.mark.parametrize("bad", [
    np.full((6, 6, 3), np.nan),
    np.full((6, 6, 3), np.inf),
    np.arange(18, dtype=np.uint8),
    np.zeros((0, 0, 3), dtype=np.uint8),
    np.zeros((0, 0), dtype=np.uint8),
    np.full((6, 6, 3), 200.0),            # float 0-255: ambiguous, must be uint8
    np.full((6, 6, 3), -0.5),             # negative float pixels
    np.full((6, 6, 3), 300, dtype=np.int64),
    np.zeros((6, 6, 3, 2), dtype=np.uint8),
], ids=["nan", "inf", "1-D", "0x0x3", "0x0", "float-0-255", "negative", "int-over-255", "4-D"])
def test_load_ham10000_rejects_images_that_are_not_images(bad):
    with pytest.raises(ValueError) as info:
        gds.load_ham10000(records=_ham_rows([GOOD, bad]), image_size=None)
    msg = str(info.value)
    assert _mentions_row(msg, 1) or "image 1" in msg, msg
    assert re.search(r"uint8|convert|drop|pass", msg, re.I), msg


def test_float_images_in_0_1_are_accepted_exactly():
    f = np.linspace(0, 1, 6 * 6 * 3).reshape(6, 6, 3)
    ds = gds.load_ham10000(records=_ham_rows([GOOD, f]), image_size=None)
    np.testing.assert_array_equal(ds.images[1], np.round(f * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPKIT_CACHE", str(tmp_path_factory.mktemp("gapkit-cache")))
    from gapkit.contrastive import init_mini_clip

    yield init_mini_clip(device="cpu", embed_dim=8)
    mp.undo()


def test_mini_clip_rejects_float_hwc_images_holding_0_255(mini):
    x = np.random.default_rng(0).uniform(0, 255, size=(3, 32, 32, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"0.255|\[0, 1\]|uint8"):
        mini.embed_images(x)


def test_mini_clip_float_hwc_in_0_1_equals_uint8(mini):
    u8 = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(mini.embed_images(u8.astype(np.float32) / 255.0), mini.embed_images(u8), atol=1e-5)


def test_mini_clip_rejects_float_chw_tensors_holding_0_255(mini):
    torch = pytest.importorskip("torch")
    x = torch.rand(2, 3, 32, 32) * 255
    with pytest.raises(ValueError, match=r"0.255|\[0, 1\]|uint8"):
        mini.embed_images(x)


@pytest.mark.parametrize("form", ["hwc-array", "chw-tensor"])
def test_mini_clip_rejects_nan_pixels_naming_the_row(mini, form):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(0, 1, size=(3, 32, 32, 3)).astype(np.float32)
    x[2, 5, 5, 0] = np.nan
    arg = x if form == "hwc-array" else torch.from_numpy(x).permute(0, 3, 1, 2)
    with pytest.raises(ValueError) as info:
        mini.embed_images(arg)
    assert "NaN" in str(info.value) and _mentions_row(str(info.value), 2), str(info.value)


@pytest.mark.parametrize("bad", [None, float("nan"), 3, b"bytes"], ids=["None", "NaN", "int", "bytes"])
def test_mini_clip_texts_must_be_strings(mini, bad):
    with pytest.raises((ValueError, TypeError)) as info:
        mini.embed_texts(["a cat", bad])
    assert _mentions_row(str(info.value), 1) or "[1]" in str(info.value), str(info.value)


@pytest.mark.parametrize("bad", [None, float("nan")], ids=["None", "NaN"])
def test_text_features_refuse_non_strings(bad):
    from gapkit.contrastive import text_features

    with pytest.raises((ValueError, TypeError)):
        text_features(["a cat", bad], use_cache=False)


class NaNEncoder:
    name, precision = "nan-encoder", "fp32"

    def __init__(self):
        self.calls = 0

    def fingerprint(self):
        return "w"

    def embed_texts(self, texts, **kw):
        self.calls += 1
        out = np.ones((len(texts), 4), np.float32)
        out[1] = np.nan
        return out

    embed_images = embed_texts


def test_cached_embed_never_stores_nan_embeddings(tmp_path):
    store = EmbeddingCache(tmp_path / "c")
    with pytest.raises(ValueError) as info:
        cached_embed(NaNEncoder(), "text", ["a", "b", "c"], cache=store, progress=False)
    assert "NaN" in str(info.value) and _mentions_row(str(info.value), 1), str(info.value)
    assert store.keys() == []


def test_cached_embed_rejects_non_string_texts_before_embedding(tmp_path):
    enc = NaNEncoder()
    with pytest.raises((ValueError, TypeError)):
        cached_embed(enc, "text", ["a", None], cache=tmp_path / "c", progress=False)
    assert enc.calls == 0


# --------------------------------------------------------------------------- labels


def test_train_head_rejects_a_test_class_never_seen_in_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    ytr = np.arange(40) % 2
    yte = np.array([0, 1, 2, 1])
    with pytest.raises(ValueError) as info:
        train.train_head(X, ytr, X[:4], yte, max_epochs=1)
    msg = str(info.value)
    assert re.search(r"\b2\b", msg) and "y_test" in msg and _mentions_row(msg, 2), msg


@pytest.mark.parametrize("where", ["train", "test"])
def test_labels_containing_none_are_rejected_naming_the_row(where):
    X = np.random.default_rng(0).normal(size=(20, 4))
    y = [0, 1] * 10
    bad = list(y)
    bad[3] = None
    args = (X, bad, X, y) if where == "train" else (X, y, X, bad)
    with pytest.raises(ValueError) as info:
        train.train_head(*args, max_epochs=1)
    msg = str(info.value)
    assert "None" in msg and _mentions_row(msg, 3), msg
    assert "not supported" not in msg


def test_sweep_lambda_labels_containing_none_are_rejected():
    rng = np.random.default_rng(0)
    img, txt = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    y = np.array([0, 1] * 10, dtype=object)
    y[5] = None
    with pytest.raises(ValueError, match=r"None"):
        train.sweep_lambda(img, txt, y, lams=[0.0], seeds=(0,), max_epochs=1, progress=False)


def test_string_labels_still_work():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = np.array(["cat", "dog"] * 20)
    out = train.train_head(X, y, X, y, max_epochs=1)
    assert 0.0 <= out["accuracy"] <= 1.0


def test_torch_encoder_rejects_nan_preprocessed_pixels_naming_the_row():
    torch = pytest.importorskip("torch")
    from gapkit.encoders import _as_image_items

    x = torch.zeros(4, 3, 8, 8)
    x[3, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError) as info:
        _as_image_items(x)
    assert "NaN" in str(info.value) and _mentions_row(str(info.value), 3), str(info.value)
    assert _as_image_items(torch.zeros(2, 3, 8, 8)).shape == (2, 3, 8, 8)
