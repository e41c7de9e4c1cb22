"""gapkit.exercises: every code exercise's check passes a right answer and fails wrong ones.

The book build runs each chapter's own solution through its check (the `exercise-check` cells), so
a check its solution fails breaks the build; here every check also gets wrong answers, which must
fail with a message that names the problem and not the expected value.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gapkit import cone, geometry
from gapkit.exercises import ExerciseCheckError, available_checks, check

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import _common  # noqa: E402
import colab_notebook as cn  # noqa: E402
import student  # noqa: E402

CHAPTERS = _common.notebook_chapters()


def _cones(seed=0, n=60, d=16):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d)) + 2.0 * np.eye(d)[0]
    t = rng.normal(size=(n, d)) + 2.0 * np.eye(d)[1]
    return v, t


class _FakeMiniClip:
    """What ex-learn-tau reads from a model: its config, its temperature and its embeddings."""

    def __init__(self, learnable=True, start=0.07, end=0.061):
        self.config = types.SimpleNamespace(learnable_temperature=learnable, temperature=start)
        self.temperature = end
        self._v, self._t = _cones(3, n=8)

    def embed_images(self, images, **kw):
        return self._v[: len(images)]

    def embed_texts(self, texts, **kw):
        return self._t[: len(texts)]


def _gap_decomposition():
    emb = {"untrained": _cones(0), "τ = 1": _cones(1)}
    right = pd.DataFrame({name: {"R_image": geometry.mean_resultant_length(v),
                                 "R_text": geometry.mean_resultant_length(t),
                                 "cos_axes": float(cone.cone_axis(v) @ cone.cone_axis(t))}
                          for name, (v, t) in emb.items()}).T
    off = right.copy()
    off.loc["τ = 1", "R_text"] += 0.1
    flipped = right.copy()
    flipped["cos_axes"] = -flipped["cos_axes"] - 0.5
    wrong = {"R_text off by 0.1": off, "a row missing": right.drop(index="τ = 1"),
             "a column missing": right.drop(columns="cos_axes"), "wrong sign": flipped,
             "not a table": [1, 2, 3]}
    return {"embeddings": emb}, right, wrong


def _learn_tau():
    model = _FakeMiniClip()
    images, texts = [0] * 8, [f"caption {i}" for i in range(8)]
    v, t = cone.embed_pairs(model, images, texts)
    right = {"tau": model.temperature, "gap": geometry.centroid_gap(v, t)}
    given = {"model": model, "images": images, "texts": texts}
    wrong = {"gap off": {**right, "gap": right["gap"] + 0.01}, "tau is the start": {**right, "tau": 0.07},
             "a key missing": {"tau": right["tau"]}, "nan": {**right, "gap": float("nan")}}
    return given, right, wrong, {"fixed temperature": _FakeMiniClip(learnable=False),
                                 "started elsewhere": _FakeMiniClip(start=0.01)}


def _cone_linear():
    x = cone.gaussian_inputs(24, 8, seed=1)
    x = x - x.mean(axis=0)  # exactly centred
    runs = {name: cone.mlp_cone(xs, depths=[1, 5, 10, 20], activations=[None], seeds=[0, 1, 2])
            for name, xs in (("centred", x), ("shifted", x + 3.0))}
    right = pd.DataFrame({name: res.groupby("depth").mean_cosine.mean() for name, res in runs.items()})
    seed0 = pd.DataFrame({name: res[res.seed == 0].set_index("depth").mean_cosine for name, res in runs.items()})
    relu = right.copy()
    relu["centred"] = 0.5  # what a ReLU network would give
    wrong = {"one seed only": seed0, "relu instead of affine": relu, "depth 20 missing": right.drop(index=20),
             "columns renamed": right.rename(columns={"shifted": "shift"}), "input cosine": right * 0 + 0.9}
    return {"inputs": x, "shift": 3.0}, right, wrong


def _cone_width():
    rows = {}
    for width in (32, 64, 128, 256, 512, 1024):
        res = cone.mlp_cone(cone.gaussian_inputs(6, width, seed=2), depths=[6], activations=["relu"], seeds=[0, 1, 2],
                            width=width)
        rows[width] = {"R_mean": res.R.mean(), "R_std": res.R.std()}
    right = pd.DataFrame(rows).T
    off = right.copy()
    off.loc[256, "R_mean"] -= 0.05
    std_as_var = right.assign(R_std=right.R_std ** 2 + 0.01)
    wrong = {"R_mean off at 256": off, "variance for std": std_as_var, "a width missing": right.drop(index=1024),
             "no R_std": right.drop(columns="R_std"), "a list": [0.9] * 6}
    return {"n_inputs": 6}, right, wrong


CASES = {"ex-gap-decomposition": _gap_decomposition, "ex-learn-tau": _learn_tau,
         "ex-cone-linear": _cone_linear, "ex-cone-width": _cone_width}


def test_every_check_has_cases():
    assert sorted(CASES) == available_checks()


@pytest.mark.parametrize("label", sorted(CASES))
def test_right_answer_passes_and_wrong_answers_fail(label, capsys):
    given, right, wrong, *bad_models = CASES[label]()
    check(label, right, **given)
    assert capsys.readouterr().out.strip() == f"{label}: right."
    for why, answer in wrong.items():
        with pytest.raises(ExerciseCheckError, match=f"{label}: not yet right") as err:
            check(label, answer, **given)
        assert "  - " in str(err.value), why
    for why, model in (bad_models[0].items() if bad_models else []):
        with pytest.raises(ExerciseCheckError, match="temperature"):
            check(label, right, **{**given, "model": model})


def test_a_wrong_value_is_described_not_revealed():
    given, right, wrong = _gap_decomposition()
    with pytest.raises(ExerciseCheckError) as err:
        check("ex-gap-decomposition", wrong["R_text off by 0.1"], **given)
    msg = str(err.value)
    assert "R_text of 'τ = 1'" in msg and "too large" in msg
    assert f"{right.loc['τ = 1', 'R_text']:.4g}" not in msg  # the expected value is not in the message


def test_unknown_label():
    with pytest.raises(KeyError, match="no check for exercise 'ex-nope'"):
        check("ex-nope", 1)

