"""Protocol claims that must match the code (issue 14).

- gapkit.train says where it follows the authors' protocol and where it differs (validation split,
  outer split, multilabel loss weights), and offers the authors' choices as options where it can:
  ``stratify_validation=False`` (their random validation split) and ``split_column=`` (their fixed
  outer split, the same for every run). Chapter 6 says the same.
- OrthogonalShift keeps the ``fixed_extra`` directions (e.g. class prompts) exactly in its basis
  whatever ``energy`` is, so zero-shot predictions never flip.
- The RMG docstring states Schrodi's 1e-3 clamp and what each choice returns when image == text.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from gapkit import geometry, robustness, shift, train

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- OrthogonalShift and fixed_extra


@pytest.fixture(scope="module")
def zero_shot_data():
    """Texts in a few strong directions; class prompts mostly outside them; a gap with parts along the prompts."""
    rng = np.random.default_rng(0)
    d, n, k = 48, 400, 12
    strong = np.linalg.qr(rng.normal(size=(d, 6)))[0].T                      # 6 dominant text directions
    txt = rng.normal(size=(n, 6)) * [8, 6, 5, 4, 3, 2] @ strong + 0.05 * rng.normal(size=(n, d))
    prompts = rng.normal(size=(k, d))
    img = txt + 0.8 * rng.normal(size=(n, d)) + 1.5 * prompts[rng.integers(0, k, n)] + 4.0 * rng.normal(size=d)
    return img, txt, prompts


@pytest.mark.parametrize("energy", [0.5, 0.8, 0.9, 0.99, 0.999, None])
def test_fixed_extra_directions_stay_exactly_in_the_basis(zero_shot_data, energy):
    img, txt, prompts = zero_shot_data
    sh = shift.OrthogonalShift(1.0, energy=energy).fit(img, txt, fixed_extra=prompts)
    unit = prompts / np.linalg.norm(prompts, axis=1, keepdims=True)
    residual = unit - (unit @ sh.basis_.T) @ sh.basis_
    assert np.abs(residual).max() < 1e-10
    assert np.abs(sh.gap_perp_ @ unit.T).max() < 1e-10
    np.testing.assert_allclose(sh.basis_ @ sh.basis_.T, np.eye(sh.rank_), atol=1e-10)


@pytest.mark.parametrize("energy", [0.5, 0.9, 0.99])
def test_orthogonal_shift_with_energy_flips_no_zero_shot_prediction(zero_shot_data, energy):
    img, txt, prompts = zero_shot_data
    clean = robustness.zero_shot_predict(img, prompts)
    sh = shift.OrthogonalShift(1.0, energy=energy).fit(img, txt, fixed_extra=prompts)
    moved = robustness.zero_shot_predict(sh.transform_image(img), sh.transform_text(prompts))
    assert int((moved != clean).sum()) == 0
    assert sh.gap_perp_norm_ > 0.1          # the shift really moved the images


def test_energy_still_truncates_the_text_span(zero_shot_data):
    img, txt, prompts = zero_shot_data
    full = shift.OrthogonalShift(energy=None).fit(img, txt, fixed_extra=prompts)
    half = shift.OrthogonalShift(energy=0.5).fit(img, txt, fixed_extra=prompts)
    assert prompts.shape[0] <= half.rank_ < full.rank_


# --------------------------------------------------------------------------- the RMG docstring


def test_rmg_docstring_states_schrodis_clamp_and_the_identical_case():
    doc = geometry.relative_modality_gap.__doc__
    assert "1e-3" in doc and re.search(r"clamp", doc, re.I)
    assert re.search(r"image\s*==\s*text|identical", doc)
    x = np.random.default_rng(0).normal(size=(30, 5))
    assert geometry.relative_modality_gap(x, x) == 0.0      # what ours returns when image == text


# --------------------------------------------------------------------------- gapkit.train vs the authors


def test_train_docstring_says_where_it_differs():
    doc = train.__doc__
    assert re.search(r"differ", doc, re.I)
    assert re.search(r"random", doc) and "stratify_validation" in doc
    assert "split_column" in doc
    assert re.search(r"n\s*/\s*\(K\s*·\s*n_k\)", doc) and "pos_weight" in doc


def test_chapter_5_has_a_where_we_differ_note():
    text = (ROOT / "chapters" / "06_supervised_evaluation.md").read_text(encoding="utf-8")
    m = re.search(r"Where we differ from the authors' protocol(.{0,3000})", text, re.S)
    assert m, "chapter 6 lacks the 'Where we differ from the authors' protocol' note"
    note = m.group(1)
    assert re.search(r"validation", note) and re.search(r"split column|fixed split", note)
    assert re.search(r"pos_weight|n_k", note)


def test_split_indices_random_validation_matches_sklearn():
    y = np.array([0] * 30 + [1] * 10)
    tr, te = train.split_indices(y, 0.1, 7, stratify=False)
    ref_tr, ref_te = train_test_split(np.arange(40), test_size=0.1, random_state=7)
    np.testing.assert_array_equal(te, np.sort(ref_te))
    np.testing.assert_array_equal(tr, np.sort(ref_tr))


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(1)
    n, d = 120, 6
    y = (rng.random(n) < 0.3).astype(int)
    img = rng.normal(size=(n, d)) + y[:, None] * 0.8
    txt = rng.normal(size=(n, d)) - 1.0
    return img, txt, y


def test_stratify_validation_false_is_the_same_in_both_sweep_paths(task):
    img, txt, y = task
    kw = dict(lams=[0.0, 1.0], seeds=(0, 1), max_epochs=4, progress=False, dtype="float64", device="cpu",
              stratify_validation=False)
    a = train.sweep_lambda(img, txt, y, batched=True, **kw).table["value"].to_numpy()
    b = train.sweep_lambda(img, txt, y, batched=False, **kw).table["value"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    c = train.sweep_lambda(img, txt, y, batched=True, **{**kw, "stratify_validation": True}).training
    d = train.sweep_lambda(img, txt, y, batched=True, **kw).training
    assert not np.array_equal(c["best_val_loss"].to_numpy(), d["best_val_loss"].to_numpy())


def test_train_head_stratify_validation_option(task):
    img, _, y = task
    out = train.train_head(img, y, img, y, max_epochs=2, stratify_validation=False)
    assert 0.0 <= out["auc"] <= 1.0


@pytest.mark.parametrize("form", ["strings", "bools"])
def test_split_column_fixes_the_outer_split_for_every_seed(task, form):
    img, txt, y = task
    is_test = np.zeros(len(y), dtype=bool)
    is_test[::5] = True
    column = np.where(is_test, "test", "train") if form == "strings" else is_test
    res = train.sweep_lambda(img, txt, y, lams=[0.0], seeds=(3, 4), max_epochs=2, progress=False,
                             split_column=column)
    for s in (3, 4):
        tr, te = res.splits[s]
        np.testing.assert_array_equal(te, np.flatnonzero(is_test))
        np.testing.assert_array_equal(tr, np.flatnonzero(~is_test))
        np.testing.assert_allclose(res.deltas[s], (geometry.normalize_rows(img[tr], dtype=np.float64)
                                                   - geometry.normalize_rows(txt[tr], dtype=np.float64)).mean(0))


@pytest.mark.parametrize("bad", [["train"] * 119 + ["val"], ["train"] * 120, ["test"] * 120, ["train"] * 10],
                         ids=["unknown-value", "no-test-rows", "no-train-rows", "wrong-length"])
def test_split_column_is_validated(task, bad):
    img, txt, y = task
    with pytest.raises(ValueError, match="split_column"):
        train.sweep_lambda(img, txt, y, lams=[0.0], seeds=(0,), max_epochs=1, progress=False, split_column=bad)
