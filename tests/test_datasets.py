"""gapkit.datasets: offline generators, the container, and the Hub loaders on local fixtures."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pandas as pd
import pytest

from gapkit.datasets import (
    HAM10000_CLASSES,
    SHAPE_ATTRIBUTES,
    PairedDataset,
    load_captions,
    load_digits_captions,
    load_ham10000,
    make_multimodal_task,
    make_shapes,
)


def _row_keys(ds: PairedDataset) -> set[bytes]:
    return {img.tobytes() for img in ds.images}


# ---------------------------------------------------------------------------
# container
# ---------------------------------------------------------------------------


def test_container_validates_shapes():
    imgs = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="texts"):
        PairedDataset(imgs, ["a", "b"], np.array([0, 1, 0]), ["x", "y"], "bad")
    with pytest.raises(ValueError, match="uint8"):
        PairedDataset(imgs.astype(float), ["a", "b", "c"], np.array([0, 1, 0]), ["x", "y"], "bad")
    with pytest.raises(ValueError, match=r"\(n, H, W, 3\)"):
        PairedDataset(imgs[..., 0], ["a", "b", "c"], np.array([0, 1, 0]), ["x", "y"], "bad")
    with pytest.raises(ValueError, match="labels"):
        PairedDataset(imgs, ["a", "b", "c"], np.array([0, 1]), ["x", "y"], "bad")


def test_fingerprint_is_a_content_hash():
    a = make_shapes(40, seed=3, n_described=2)
    b = make_shapes(40, seed=3, n_described=2)
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 16
    assert make_shapes(40, seed=4, n_described=2).fingerprint() != a.fingerprint()
    # same images, different captions -> different fingerprint
    assert make_shapes(40, seed=3, n_described=3).fingerprint() != a.fingerprint()
    c = a.subset(np.arange(40))
    c.texts[0] = c.texts[0] + " "
    assert c.fingerprint() != a.fingerprint()


def test_subset_and_mask():
    ds = make_shapes(30, seed=0, n_described=3)
    sub = ds.subset([4, 2, 9])
    assert len(sub) == 3 and sub.texts == [ds.texts[i] for i in (4, 2, 9)]
    np.testing.assert_array_equal(sub.images[1], ds.images[2])
    assert list(sub.attributes.index) == [0, 1, 2]
    assert sub.attributes.iloc[2]["shape"] == ds.attributes.iloc[9]["shape"]
    mask = np.zeros(30, bool)
    mask[[1, 5]] = True
    assert ds.subset(mask).texts == [ds.texts[1], ds.texts[5]]


@pytest.mark.parametrize("make", [
    lambda: make_shapes(400, seed=1, n_described=2),
    lambda: make_multimodal_task(400, seed=1, n_classes=3),
    lambda: load_digits_captions(seed=1),
])
def test_split_is_stratified_disjoint_and_seeded(make):
    ds = make()
    train, test = ds.split(test_size=0.2, seed=42)
    assert len(train) + len(test) == len(ds)
    assert abs(len(test) - 0.2 * len(ds)) <= 1
    k_train, k_test = _row_keys(train), _row_keys(test)
    assert not (k_train & k_test), "train and test share rows"
    assert len(k_train | k_test) == len(_row_keys(ds))
    for c in np.unique(ds.labels):  # class proportions kept to within one pair
        expected = np.mean(ds.labels == c) * len(test)
        assert abs(np.sum(test.labels == c) - expected) <= 1.0
    again = ds.split(test_size=0.2, seed=42)[1]
    assert again.texts == test.texts and np.array_equal(again.images, test.images)
    other = ds.split(test_size=0.2, seed=7)[1]
    assert _row_keys(other) != k_test


def test_split_multilabel():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, size=(60, 4, 4, 3), dtype=np.uint8)
    labels = np.stack([np.arange(60) % 2, (np.arange(60) // 2) % 2], axis=1)
    ds = PairedDataset(imgs, [f"t{i}" for i in range(60)], labels, ["a", "b"], "ml")
    train, test = ds.split(0.25, seed=0)
    assert len(test) == 15 and ds.is_multilabel
    assert not (set(train.texts) & set(test.texts))


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------


def test_digits_captions():
    ds = load_digits_captions(seed=0, template="a photo of the digit {name}")
    assert ds.images.shape == (1797, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (1797,) and set(np.unique(ds.labels)) == set(range(10))
    assert ds.label_names[3] == "three"
    i = int(np.flatnonzero(ds.labels == 3)[0])
    assert ds.texts[i] == "a photo of the digit three"
    # grey images: the three channels are equal, and the digit is bright on dark
    assert np.array_equal(ds.images[..., 0], ds.images[..., 2])
    many = load_digits_captions(seed=0)
    assert len(set(many.attributes["template"])) > 1
    assert many.texts == load_digits_captions(seed=0).texts
    assert many.texts != load_digits_captions(seed=1).texts
    assert np.array_equal(many.images, load_digits_captions(seed=1).images)
    assert load_digits_captions(image_size=16).images.shape[1:] == (16, 16, 3)


# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------


def _mentioned(caption: str) -> set[str]:
    words = caption.rstrip(".").split()
    text = " " + " ".join(words) + " "
    found = set()
    for attr, values in SHAPE_ATTRIBUTES.items():
        hits = [v for v in values if f" {v} " in text]
        assert len(hits) <= 1, (caption, attr, hits)
        if hits:
            found.add(attr)
    return found


def test_shapes_arrays_and_determinism():
    ds = make_shapes(50, seed=5, n_described=6, image_size=24)
    assert ds.images.shape == (50, 24, 24, 3) and ds.images.dtype == np.uint8
    assert ds.labels.dtype.kind == "i" and ds.labels.max() < len(SHAPE_ATTRIBUTES["shape"])
    assert list(ds.attributes.columns[:6]) == list(SHAPE_ATTRIBUTES)
    again = make_shapes(50, seed=5, n_described=6, image_size=24)
    assert np.array_equal(ds.images, again.images) and ds.texts == again.texts
    assert not np.array_equal(ds.images, make_shapes(50, seed=6, image_size=24).images)
    by_colour = make_shapes(50, seed=5, label="colour", image_size=24)
    assert by_colour.label_names == list(SHAPE_ATTRIBUTES["colour"])


@pytest.mark.parametrize("described", ["first", "random"])
def test_shapes_caption_knob_mentions_exactly_k(described):
    base = make_shapes(60, seed=2, n_described=6)
    for k in range(7):
        ds = make_shapes(60, seed=2, n_described=k, described=described)
        # the images do not depend on the caption knob: only the text's information changes
        assert np.array_equal(ds.images, base.images)
        for cap, row in zip(ds.texts, ds.attributes.itertuples()):
            named = _mentioned(cap)
            assert len(named) == k, (k, cap)
            assert named == set(filter(None, row.described.split(","))), cap
            for attr in named:  # and every named value is the true one
                assert f" {getattr(row, attr)} " in " " + cap.rstrip(".") + " "
        if described == "first":
            assert all(_mentioned(c) == set(list(SHAPE_ATTRIBUTES)[:k]) for c in ds.texts)
    assert make_shapes(3, seed=0, n_described=0).texts == ["a shape."] * 3


def test_shapes_full_caption_reads_well():
    ds = make_shapes(200, seed=0, n_described=6)
    pattern = re.compile(
        r"^an? (small|large) (\w+) (solid|striped) (\w+) in the (top|bottom) (left|right) on a (dark|light) background\.$"
    )
    assert all(pattern.match(t) for t in ds.texts)
    two = make_shapes(200, seed=0, n_described=2).texts
    assert all(t.startswith("an orange ") == ("orange" in t) for t in two)
    with pytest.raises(ValueError):
        make_shapes(10, n_described=7)


# ---------------------------------------------------------------------------
# the supervised multimodal task
# ---------------------------------------------------------------------------


def _auc_of(features: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(features, y, test_size=0.3, random_state=0, stratify=y)
    clf = LogisticRegression(max_iter=2000).fit(xtr, ytr)
    return roc_auc_score(yte, clf.predict_proba(xte)[:, 1])


def test_multimodal_task_needs_both_modalities():
    ds = make_multimodal_task(2000, seed=0)
    assert ds.images.shape == (2000, 32, 32, 3) and ds.images.dtype == np.uint8
    assert set(np.unique(ds.labels)) == {0, 1} and abs(ds.labels.mean() - 0.5) < 0.01
    a = ds.attributes
    assert re.match(r"^Patient aged \d+, (male|female), lesion on the [a-z ]+\.$", ds.texts[0])
    assert ds.texts[0] == f"Patient aged {a.age[0]}, {a.sex[0]}, lesion on the {a.localization[0]}."
    img = a[["radius", "darkness", "irregularity", "skin_tone"]].to_numpy()
    meta = np.column_stack([a.age, a.sex == "male", pd.get_dummies(a.localization).to_numpy()]).astype(float)
    auc_img, auc_meta = _auc_of(img, ds.labels), _auc_of(meta, ds.labels)
    auc_both = _auc_of(np.column_stack([img, meta]), ds.labels)
    assert 0.65 < auc_img < 0.9 and 0.65 < auc_meta < 0.9
    assert auc_both > max(auc_img, auc_meta) + 0.05
    # and the information really is in the pixels: lesion size is visible as dark-pixel area
    dark_area = (ds.images.mean(axis=3) < ds.images.mean(axis=(1, 2, 3))[:, None, None]).mean(axis=(1, 2))
    assert np.corrcoef(dark_area, a.radius)[0, 1] > 0.5


def test_multimodal_task_multiclass_and_determinism():
    ds = make_multimodal_task(300, seed=1, n_classes=4)
    assert set(np.unique(ds.labels)) == {0, 1, 2, 3}
    assert np.bincount(ds.labels).min() >= 70
    again = make_multimodal_task(300, seed=1, n_classes=4)
    assert np.array_equal(ds.images, again.images) and ds.texts == again.texts
    assert make_multimodal_task(300, seed=1, positive_rate=0.2).labels.mean() == pytest.approx(0.2, abs=0.01)


# ---------------------------------------------------------------------------
# Hub loaders on local fixtures
# ---------------------------------------------------------------------------


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def ham_records():
    from PIL import Image

    rng = np.random.default_rng(0)
    pil = Image.fromarray(rng.integers(0, 255, size=(45, 60, 3), dtype=np.uint8))
    arr = rng.integers(0, 255, size=(30, 40, 3), dtype=np.uint8)
    return [
        {"image": pil, "image_id": "ISIC_1", "lesion_id": "HAM_1", "dx": "bkl", "dx_type": "histo",
         "age": 80.0, "sex": "male", "localization": "scalp"},
        {"image": {"bytes": _png_bytes(arr), "path": None}, "image_id": "ISIC_2", "lesion_id": "HAM_2",
         "dx": "melanocytic_Nevi", "dx_type": "follow_up", "age": 45.0, "sex": "female",
         "localization": "lower extremity"},
        {"image": arr, "image_id": "ISIC_3", "lesion_id": "HAM_3", "dx": "mel", "dx_type": "consensus",
         "age": float("nan"), "sex": "unknown", "localization": "back"},
    ]


def test_ham10000_builds_the_paper_sentence(ham_records):
    ds = load_ham10000(records=ham_records, image_size=16)
    assert ds.texts == [
        "Patient diagnosed via histo. Age: 80. Sex: male. Localization: scalp.",
        "Patient diagnosed via follow_up. Age: 45. Sex: female. Localization: lower extremity.",
        "Patient diagnosed via consensus. Age: unknown. Sex: unknown. Localization: back.",
    ]
    assert ds.images.shape == (3, 16, 16, 3) and ds.images.dtype == np.uint8
    assert list(ds.labels) == [HAM10000_CLASSES.index(c) for c in ("bkl", "nv", "mel")]
    assert ds.label_names == list(HAM10000_CLASSES) and len(ds.label_names) == 7
    assert list(ds.attributes["dx_code"]) == ["bkl", "nv", "mel"]
    # the same rows as a DataFrame give the same dataset
    assert load_ham10000(records=pd.DataFrame(ham_records), image_size=16).fingerprint() == ds.fingerprint()
    assert len(load_ham10000(records=ham_records, image_size=16, max_samples=2)) == 2


class _FakeHubSplit:
    """Iterates rows once like a Hub (Iterable)Dataset and exposes column_names."""

    def __init__(self, rows):
        self.rows, self.column_names, self.read = rows, list(rows[0]), 0

    def __iter__(self):
        for r in self.rows:
            self.read += 1
            yield r


def test_ham10000_from_a_hub_like_stream(ham_records):
    ref = load_ham10000(records=ham_records, image_size=16)
    stream = _FakeHubSplit(ham_records)
    ds = load_ham10000(records=stream, image_size=16)
    assert ds.texts == ref.texts and ds.fingerprint() == ref.fingerprint()
    short = _FakeHubSplit(ham_records)
    assert len(load_ham10000(records=short, image_size=16, max_samples=1)) == 1 and short.read <= 2
    no_image = _FakeHubSplit([{k: v for k, v in r.items() if k != "image"} for r in ham_records])
    with pytest.raises(ValueError, match="image column 'image' not found"):
        load_ham10000(records=no_image, image_size=16)


def test_ham10000_column_mapping(ham_records):
    renamed = [{("diagnosis" if k == "dx" else k): v for k, v in r.items()} for r in ham_records]
    with pytest.raises(ValueError, match="dx -> 'dx'"):
        load_ham10000(records=renamed, image_size=16)
    ds = load_ham10000(records=renamed, image_size=16, columns={"dx": "diagnosis"})
    assert ds.texts[0].startswith("Patient diagnosed via histo.")
    bad = [dict(ham_records[0], dx="not-a-class")]
    with pytest.raises(ValueError, match="unknown dx"):
        load_ham10000(records=bad, image_size=16)


def test_online_loaders_explain_missing_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ImportError, match="pip install datasets"):
        load_ham10000(split="train")
    with pytest.raises(ImportError, match="pip install datasets"):
        load_captions("coco")


def test_captions_loader_on_fixtures():
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 255, size=(20 + i, 24, 3), dtype=np.uint8) for i in range(3)]
    coco_like = [{"image": im, "answer": [f" caption {i} a ", f"other {i}"], "question_id": str(i)}
                 for i, im in enumerate(imgs)]
    ds = load_captions("coco", records=coco_like, image_size=32)
    assert ds.texts == ["caption 0 a", "caption 1 a", "caption 2 a"]
    assert ds.images.shape == (3, 32, 32, 3) and set(ds.labels) == {0}
    assert load_captions("coco", records=coco_like, image_size=32, caption_index=1).texts[2] == "other 2"
    flickr_like = pd.DataFrame({"image": [{"bytes": _png_bytes(im)} for im in imgs],
                                "caption": [f"a dog {i}" for i in range(3)]})
    ds2 = load_captions("flickr30k", records=flickr_like, image_size=8)
    assert ds2.texts == ["a dog 0", "a dog 1", "a dog 2"] and ds2.images.shape == (3, 8, 8, 3)
    with pytest.raises(ValueError, match="caption_column"):
        load_captions("flickr30k", records=coco_like, image_size=8)
    with pytest.raises(ValueError, match="unknown caption set"):
        load_captions("nope", records=coco_like)


def test_captions_person_label_reads_the_other_captions():
    from gapkit.datasets import mentions_person

    assert mentions_person("Two Women riding bikes.") and mentions_person("a boy") and mentions_person("A MAN.")
    assert not mentions_person("a manual typewriter") and not mentions_person("a dog on a sofa")
    rng = np.random.default_rng(2)
    caps = [["a man with a dog", "a dog on grass"],          # person only in the kept caption -> 0
            ["a dog on grass", "a woman walks her dog"],     # person in another caption -> 1
            ["a red bus", "a bus in the street"]]            # no person -> 0
    recs = [{"image": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), "answer": c} for c in caps]
    ds = load_captions("coco", records=recs, image_size=8, label="person")
    assert ds.labels.tolist() == [0, 1, 0] and ds.label_names == ["no person", "person"]
    assert ds.texts[0] == "a man with a dog" and "person" in ds.name and "33 %" in ds.description
    assert load_captions("coco", records=recs, image_size=8, label="person", caption_index=1).labels.tolist() == [1, 0, 0]
    single = pd.DataFrame({"image": [r["image"] for r in recs], "caption": ["a man", "a dog", "a bus"]})
    with pytest.raises(ValueError, match="single caption"):
        load_captions("flickr30k", records=single, label="person")
    with pytest.raises(ValueError, match="label must be"):
        load_captions("coco", records=recs, label="dog")
