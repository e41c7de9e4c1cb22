"""gapkit.exercises: every code exercise's check passes a right answer and fails wrong ones.

The book build runs each chapter's own solution through its check (the `exercise-check` cells), so
a check its solution fails breaks the build; here every check also gets wrong answers, which must
fail with a message that names the problem and not the expected value. The chapters are read too:
every code exercise ends in its check cell, and every paper exercise has a folded short answer that
the student copy and the published notebooks keep.
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
    return given, right, wrong, {"fixed temperature": ({"model": _FakeMiniClip(learnable=False)}, "temperature"),
                                 "started elsewhere": ({"model": _FakeMiniClip(start=0.01)}, "temperature")}


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


def _rmg_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 64))
    cases = {"identical": (x, x), "independent": (x, rng.normal(size=(400, 64)))}
    rows = {}
    for name, (v, t) in cases.items():
        c, cv, ct = geometry.paired_cosine(v, t), geometry.mean_pairwise_cosine(v), geometry.mean_pairwise_cosine(t)
        m, a, b = (1 - c) / 2, (1 - cv) / 2, (1 - ct) / 2
        rows[name] = {"reference": m / (m + (a + b) / 2), "no_average": m / (m + a + b),
                      "similarities": m / (m + (cv + ct) / 2)}
    right = pd.DataFrame(rows).T
    assert abs(right.loc["independent", "reference"] - 0.5) < 0.02  # the closed form
    swapped = right.rename(columns={"reference": "no_average", "no_average": "reference"})
    wrong = {"forms swapped": swapped, "closed forms instead": right * 0 + [0.5, 1 / 3, 1.0],
             "a case missing": right.drop(index="identical"), "a form missing": right.drop(columns="similarities")}
    shifted = (x + 1.0, rng.normal(size=(400, 64)) + 1.0)
    bad = {"identical is not": ({"cases": {**cases, "identical": (x, x + 0.1)}}, "identical"),
           "independent not isotropic": ({"cases": {**cases, "independent": shifted}}, "isotropic"),
           "independent is identical": ({"cases": {**cases, "independent": (x, x)}}, "drawn separately")}
    return {"cases": cases}, right, wrong, bad


def _ci_width():
    n = np.array([16, 40, 100, 250, 640])
    noise = np.array([0.8, 0.9, 1.2, 1.0, 1.3])  # widths fall a little slower than 1/√n
    widths = pd.DataFrame({("centroid_gap", "image-text"): 0.2 / np.sqrt(n) * noise,
                           ("relative_modality_gap", "image-text"): 0.5 / np.sqrt(n) * noise[::-1],
                           ("centroid_gap", "image"): 1 / np.sqrt(n)}, index=pd.Index(n, name="n"))
    right = {}
    for metric in ("centroid_gap", "relative_modality_gap"):
        w = widths[metric, "image-text"]
        c = np.exp(np.mean(np.log(w.to_numpy()) + 0.5 * np.log(w.index.to_numpy())))
        right[metric] = (c / 0.01) ** 2
    slope, icpt = np.polyfit(np.log(n), np.log(widths["centroid_gap", "image-text"]), 1)  # a free exponent
    wrong = {"free exponent": {**right, "centroid_gap": float(np.exp((np.log(0.01) - icpt) / slope))},
             "the constant, not n": {k: np.sqrt(v) * 0.01 for k, v in right.items()},
             "half width 0.01": {k: v / 4 for k, v in right.items()},
             "metrics swapped": dict(zip(right, list(right.values())[::-1])), "a metric missing": {"centroid_gap": 400}}
    plain = {m: (np.sum(widths[m, "image-text"] / np.sqrt(n)) / np.sum(1 / n) / 0.01) ** 2 for m in right}
    check("ex-ci-width", plain, widths=widths)  # the least-squares fit on the widths themselves is right too
    return {"widths": widths}, right, wrong


def _zero_shot_task(seed=0, n_train=120, n_test=60, d=16, k=3):
    """Two cones with class structure: training and test pairs, k class prompts, test labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))

    def pairs(n):
        y = rng.integers(0, k, size=n)
        v = centres[y] + rng.normal(size=(n, d)) + 3.0 * np.eye(d)[0]
        t = centres[y] + rng.normal(size=(n, d)) + 3.0 * np.eye(d)[1]
        return v, t, y

    v_tr, t_tr, _ = pairs(n_train)
    v_te, t_te, y_te = pairs(n_test)
    prompts = centres + 3.0 * np.eye(d)[1]
    return {"train": (v_tr, t_tr), "test": (v_te, t_te), "prompts": prompts, "labels": y_te}


def _measured(shift, given):
    from gapkit.robustness import zero_shot_accuracy

    v, t = shift.transform(*given["test"])
    return {"gap": geometry.centroid_gap(v, t), "R_image": geometry.mean_resultant_length(v),
            "R_text": geometry.mean_resultant_length(t),
            "accuracy": zero_shot_accuracy(v, shift.transform_text(given["prompts"]), given["labels"])}


def _lambda_transductive():
    from gapkit.shift import LambdaShift

    given = _zero_shot_task()
    both = tuple(np.vstack([a, b]) for a, b in zip(given["train"], given["test"]))
    right = pd.DataFrame({"inductive": _measured(LambdaShift(1.0).fit(*given["train"]), given),
                          "transductive": _measured(LambdaShift(1.0).fit(*both), given)}).T[["gap", "accuracy"]]
    assert abs(right.gap.iloc[0] - right.gap.iloc[1]) > 1e-4  # the rows can be told apart
    unshifted = right.copy()
    unshifted["gap"] = geometry.centroid_gap(*given["test"])
    one_more = right.copy()
    one_more.loc["transductive", "accuracy"] += 1 / len(given["labels"])
    wrong = {"rows swapped": right.iloc[::-1].set_axis(right.index), "gap before the shift": unshifted,
             "one image more right": one_more, "no accuracy": right.drop(columns="accuracy"),
             "a dict of numbers": {"inductive": 0.1, "transductive": 0.1}}
    return given, right, wrong


def _lambda_centering():
    from gapkit.shift import LambdaShift, MeanCentering

    given = _zero_shot_task(1)
    right = pd.DataFrame({"lambda_shift": _measured(LambdaShift(1.0).fit(*given["train"]), given),
                          "mean_centering": _measured(MeanCentering().fit(*given["train"]), given)}).T
    test_fit = pd.DataFrame({"lambda_shift": right.loc["lambda_shift"],
                             "mean_centering": _measured(MeanCentering().fit(*given["test"]), given)}).T
    raw = right.copy()
    raw.loc["mean_centering", ["R_image", "R_text"]] = [geometry.mean_resultant_length(a) for a in given["test"]]
    wrong = {"centred on the test means": test_fit, "R before centring": raw,
             "rows renamed": right.rename(index={"mean_centering": "centering"}),
             "no R_text": right.drop(columns="R_text")}
    return given, right, wrong


class _FakeSweep:
    """What ex-sup-transductive reads from a SweepResult: its settings and its mean AUC per λ."""

    def __init__(self, auc, transductive, lams=(0.0, 0.5, 1.0), seeds=(42, 43), head="linear"):
        self.lams, self.seeds, self.head, self.transductive = np.asarray(lams), tuple(seeds), head, transductive
        self._auc = pd.Series(auc, index=pd.Index(self.lams, name="lam"))

    def summary(self, metrics=None):
        return pd.DataFrame({("auc", "mean"): self._auc, ("auc", "std"): self._auc * 0 + 0.01})


def _sup_data(seed=0, n=160, d=8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    v = rng.normal(size=(n, d)) + 2.0 * np.eye(d)[0] + 0.7 * np.eye(d)[y + 2]
    t = rng.normal(size=(n, d)) + 2.0 * np.eye(d)[1] + 0.7 * np.eye(d)[y + 2]
    return v, t, y


def _sup_transductive():
    from gapkit._validation import l2_normalize
    from gapkit.train import split_indices

    v, t, y = _sup_data()
    train_only, trans = _FakeSweep([0.70, 0.72, 0.73], False), _FakeSweep([0.70, 0.721, 0.729], True)
    diff = l2_normalize(v, dtype=np.float64) - l2_normalize(t, dtype=np.float64)
    d_tr, d_all = diff[split_indices(y, 0.2, 42)[0]].mean(0), diff.mean(0)
    angle = np.degrees(np.arccos(d_tr @ d_all / np.linalg.norm(d_tr) / np.linalg.norm(d_all)))
    auc = pd.DataFrame({"train_only": train_only._auc, "transductive": trans._auc})
    right = {"auc": auc, "angle": angle}
    d_43 = diff[split_indices(y, 0.2, 43)[0]].mean(0)
    wrong = {"columns swapped": {**right, "auc": auc.rename(columns={"train_only": "transductive",
                                                                      "transductive": "train_only"})},
             "radians": {**right, "angle": np.radians(angle)},
             "seed 43": {**right, "angle": np.degrees(np.arccos(d_43 @ d_all / np.linalg.norm(d_43)
                                                                 / np.linalg.norm(d_all)))},
             "a λ missing": {**right, "auc": auc.iloc[:2]}, "no angle": {"auc": auc}}
    given = {"image": v, "text": t, "labels": y, "train_only": train_only, "transductive": trans}
    bad = {"not transductive": ({"transductive": _FakeSweep([0.7, 0.72, 0.73], False)}, "transductive=True"),
           "other grid": ({"transductive": _FakeSweep([0.7, 0.72], True, lams=(0.0, 1.0))}, "λ grid")}
    return given, right, wrong, bad


def _sup_penalty():
    from sklearn.linear_model import LogisticRegression

    from gapkit.shift import LambdaShift
    from gapkit.train import evaluate_predictions, split_indices

    v, t, y = _sup_data(1)
    seeds = (42, 43)
    effect = {}
    for C in (0.01, 0.1, 1.0, 10.0, 100.0):
        auc = {}
        for lam in (0.0, 1.0):
            values = []
            for seed in seeds:
                tr, te = split_indices(y, 0.2, seed)
                shift = LambdaShift(lam=lam).fit(v[tr], t[tr])
                (v_tr, t_tr), (v_te, t_te) = shift.transform(v[tr], t[tr]), shift.transform(v[te], t[te])
                clf = LogisticRegression(C=C, max_iter=5000).fit(np.hstack([t_tr, v_tr]), y[tr])
                proba = clf.predict_proba(np.hstack([t_te, v_te]))
                values.append(evaluate_predictions(y[te], proba, "multiclass")["auc"])
            auc[lam] = np.mean(values)
        effect[C] = auc[1.0] - auc[0.0]
    tr, _ = split_indices(y, 0.2, seeds[0])
    v_raw, t_raw = LambdaShift(lam=1.0, renormalize=False).fit(v[tr], t[tr]).transform(v[tr], t[tr])
    right = {"effect": pd.Series(effect), "factor_image": np.mean(1 / np.linalg.norm(v_raw, axis=1)),
             "factor_text": np.mean(1 / np.linalg.norm(t_raw, axis=1))}
    assert abs(right["factor_image"] - 1) > 0.05  # the shift does shorten the rows
    wrong = {"effect reversed": {**right, "effect": -right["effect"] + 0.01},
             "the norm, not the factor": {**right, "factor_image": np.mean(np.linalg.norm(v_raw, axis=1))},
             "a C missing": {**right, "effect": right["effect"].drop(index=100.0)},
             "factors swapped": {**right, "factor_image": right["factor_text"], "factor_text": right["factor_image"]},
             "no factors": {"effect": right["effect"]}}
    return {"image": v, "text": t, "labels": y, "seeds": seeds}, right, wrong


def _texts_in_a_subspace(given, k=8):
    """The task of _zero_shot_task with every text (captions and prompts) in the first k coordinates."""
    cut = lambda x: np.hstack([x[:, :k], np.zeros((len(x), x.shape[1] - k))])  # noqa: E731
    return {**given, "train": (given["train"][0], cut(given["train"][1])),
            "test": (given["test"][0], cut(given["test"][1])), "prompts": cut(given["prompts"])}


def _robust_equivalence():
    from gapkit._validation import l2_normalize
    from gapkit.robustness import flip_rate
    from gapkit.shift import OrthogonalShift

    task = _texts_in_a_subspace(_zero_shot_task(2))
    ortho = OrthogonalShift(1.0, moving="image").fit(*task["train"], fixed_extra=task["prompts"])
    images, prompts, sigma = task["test"][0], task["prompts"], 0.15
    ell = np.linalg.norm(l2_normalize(images, dtype=np.float64) - ortho.gap_perp_, axis=1)
    assert ell.std() > 0.01  # the images are shortened by different amounts
    shifted = flip_rate(ortho.transform_image(images), ortho.transform_text(prompts), "gaussian", sigma=sigma,
                        n_trials=6, seed=0)
    right = {"shifted": shifted, "shrunk": shifted}
    grown = flip_rate(images, prompts, lambda q, rng: q + sigma / ell[:, None] * rng.standard_normal(q.shape),
                      n_trials=6, seed=0)
    plain = flip_rate(images, prompts, "gaussian", sigma=sigma, n_trials=6, seed=0)
    assert grown != shifted and plain != shifted
    wrong = {"noise divided by ℓ": {**right, "shrunk": grown}, "no shift at all": {"shifted": plain, "shrunk": plain},
             "a percentage": {k: 100 * v for k, v in right.items()}, "one missing": {"shifted": shifted}}
    given = {"shift": ortho, "images": images, "prompts": prompts, "sigma": sigma, "n_trials": 6, "seed": 0}
    lam_half = OrthogonalShift(0.5, moving="image").fit(*task["train"], fixed_extra=task["prompts"])
    return given, right, wrong, {"λ = 0.5": ({"shift": lam_half}, "λ = 1")}


def _robust_moving_text():
    from gapkit.robustness import zero_shot_accuracy
    from gapkit.shift import OrthogonalShift

    given = _zero_shot_task(3)
    given = {"train": given["train"], "images": given["test"][0], "prompts": given["prompts"],
             "labels": given["labels"]}
    rows = {}
    for name, energy in (("full span", None), ("energy 0.9", 0.9)):
        s = OrthogonalShift(1.0, moving="text", energy=energy).fit(*given["train"])
        rows[name] = {"rank": s.rank_, "gap_perp_norm": s.gap_perp_norm_,
                      "accuracy": zero_shot_accuracy(s.transform_image(given["images"]),
                                                     s.transform_text(given["prompts"]), given["labels"])}
    right = pd.DataFrame(rows).T
    assert right.loc["energy 0.9", "rank"] < right.loc["full span", "rank"]
    images_moving = OrthogonalShift(1.0, moving="image", energy=0.9).fit(*given["train"])
    other = right.copy()
    other.loc["energy 0.9", ["rank", "gap_perp_norm"]] = [images_moving.rank_, images_moving.gap_perp_norm_ + 0.01]
    wrong = {"rows swapped": right.iloc[::-1].set_axis(right.index), "the images moved": other,
             "no rank": right.drop(columns="rank"), "energy 0.8 row": right.rename(index={"energy 0.9": "energy 0.8"})}
    return given, right, wrong


class _FakeAdapter:
    """What ex-adapter-lr reads from a LanguageModelAdapter: its settings, coef_ and transform."""

    def __init__(self, lr, epochs=5, weights=0, scale=1.0):
        self.lr, self.seed, self.epochs, self.batch_size, self.init = lr, 0, epochs, 64, "ridge"
        self.objective, self.temperature, self.alpha = "contrastive", 0.05, 1e-3
        self.coef_ = np.random.default_rng(weights).normal(size=(6, 8)) * scale

    def transform(self, x):
        return np.asarray(x) @ self.coef_


def _adapter_lr():
    from gapkit.adapters import token_geometry

    rng = np.random.default_rng(4)
    images, text_tokens = rng.normal(size=(30, 6)), rng.normal(size=(40, 8)) + 2 * np.eye(8)[0]
    reference, fast = _FakeAdapter(3e-3), _FakeAdapter(3e-2, weights=1, scale=5.0)
    cols = ["centroid_cosine", "cross_cosine", "norm_vision"]
    right = pd.DataFrame({name: {k: token_geometry(ad.transform(images), text_tokens)[k] for k in cols}
                          for name, ad in (("lm_adapter", reference), ("fast", fast))}).T
    text_norm = right.copy()
    text_norm["norm_vision"] = token_geometry(fast.transform(images), text_tokens)["norm_text"]
    wrong = {"rows swapped": right.iloc[::-1].set_axis(right.index), "the word pieces' norm": text_norm,
             "norm off by 1 %": right.assign(norm_vision=right.norm_vision * 1.01),
             "no cross_cosine": right.drop(columns="cross_cosine")}
    given = {"reference": reference, "fast": fast, "images": images, "text_tokens": text_tokens}
    bad = {"same lr": ({"fast": _FakeAdapter(3e-3, weights=1)}, "ten times"),
           "more epochs too": ({"fast": _FakeAdapter(3e-2, weights=1, epochs=10)}, "epochs"),
           "not an adapter": ({"fast": "fast"}, "fitted adapter")}
    return given, right, wrong, bad


def _adapter_nearest():
    rng = np.random.default_rng(5)
    vocabulary = rng.normal(size=(60, 8))
    vocabulary[7] = vocabulary[3]  # two entries with equal cosines: either order is right
    regression, lm = rng.normal(size=(9, 8)), rng.normal(size=(9, 8))
    regression[0] = vocabulary[3] + 0.01 * rng.normal(size=8)
    unit = geometry.normalize_rows(vocabulary)

    def top(V, k=3):
        return np.argsort(geometry.normalize_rows(V[:5]) @ unit.T, axis=1)[:, ::-1][:, :k]

    right = {"regression": top(regression), "lm": top(lm)}
    assert set(right["regression"][0, :2]) == {3, 7}
    tie_swapped = right["regression"].copy()
    tie_swapped[0, :2] = tie_swapped[0, 1::-1]
    check("ex-adapter-nearest", {**right, "regression": tie_swapped}, regression=regression, lm=lm,
          vocabulary=vocabulary)
    farthest = np.argsort(geometry.normalize_rows(lm[:5]) @ unit.T, axis=1)[:, :3]
    wrong = {"farthest entries": {**right, "lm": farthest}, "worst first": {**right, "lm": right["lm"][:, ::-1]},
             "one-based ids": {**right, "lm": right["lm"] + 1}, "two per image": {**right, "lm": right["lm"][:, :2]},
             "adapters swapped": {"regression": right["lm"], "lm": right["regression"]},
             "token strings": {**right, "lm": np.array([["a"] * 3] * 5)}, "one adapter": {"lm": right["lm"]},
             "an entry twice": {**right, "lm": np.repeat(right["lm"][:, :1], 3, axis=1)}}
    return {"regression": regression, "lm": lm, "vocabulary": vocabulary}, right, wrong


def _centroid_shuffle():
    rng = np.random.default_rng(6)
    v = rng.normal(size=(80, 8)) + 2 * np.eye(8)[0]
    t = v + rng.normal(size=(80, 8)) + 2 * np.eye(8)[1]  # paired: each text close to its image
    perm = rng.permutation(80)
    rows = {}
    for name, tt in (("pairs", t), ("shuffled", t[perm])):
        d = geometry.gap_decomposition(v, tt)
        rows[name] = {"centroid": d.centroid, "distribution": d.distribution,
                      "relative_distribution": d.relative_distribution,
                      "frechet": geometry.frechet_distance(v, tt), "mmd": geometry.mmd(v, tt, seed=0)}
    right = pd.DataFrame(rows).T
    assert right.loc["shuffled", "relative_distribution"] > right.loc["pairs", "relative_distribution"] + 0.1
    uncentred = right.copy()
    uncentred["frechet"] = [geometry.frechet_distance(v, tt, center=False) for tt in (t, t[perm])]
    same = right.copy()
    same.loc["shuffled"] = same.loc["pairs"]
    wrong = {"rows the same": same, "Fréchet uncentred": uncentred,
             "MMD of another seed": right.assign(mmd=[geometry.mmd(v, tt, seed=1) for tt in (t, t[perm])]),
             "no mmd": right.drop(columns="mmd")}
    bad = {"identity": ({"perm": np.arange(80)}, "in place"),
           "not a permutation": ({"perm": np.zeros(80, int)}, "permutation")}
    return {"image": v, "text": t, "perm": perm, "seed": 0}, right, wrong, bad


class _FakeRecipe(_FakeMiniClip):
    def __init__(self, epochs=60, swap=0.0, seed=0):
        super().__init__()
        self.config = types.SimpleNamespace(epochs=epochs, temperature=0.01, modality_swap=swap,
                                            learnable_temperature=False, temperature_end=None)
        self._v, self._t = _cones(seed, n=8)
        self._t = self._t + (0.0 if swap else 1.0) * self._v  # the fixed run retrieves better


def _centroid_swap():
    from gapkit.contrastive import retrieval_accuracy

    models = {"fixed": _FakeRecipe(), "swap": _FakeRecipe(swap=0.5, seed=1)}
    images, texts = [0] * 8, [f"caption {i}" for i in range(8)]
    rows = {}
    for name, m in models.items():
        v, t = cone.embed_pairs(m, images, texts)
        d = geometry.gap_decomposition(v, t)
        rows[name] = {"centroid": d.centroid, "relative_distribution": d.relative_distribution,
                      "top1": retrieval_accuracy(v, t, texts=texts)}
    right = pd.DataFrame(rows).T
    wrong = {"rows swapped": right.iloc[::-1].set_axis(right.index),
             "top-1 in percent": right.assign(top1=100 * right.top1),
             "the distribution gap": right.assign(relative_distribution=right.relative_distribution * 0.5),
             "no swap row": right.drop(index="swap")}
    given = {"models": models, "images": images, "texts": texts}
    bad = {"20 epochs": ({"models": {**models, "swap": _FakeRecipe(epochs=20, swap=0.5, seed=1)}}, "60 epochs"),
           "no swapping": ({"models": {**models, "swap": _FakeRecipe(seed=1)}}, "modality_swap=0.5"),
           "a schedule": ({"models": {**models, "fixed": _FakeRecipe()}}, "fixed temperature")}
    bad["a schedule"][0]["models"]["fixed"].config.temperature_end = 0.001
    return given, right, wrong, bad


CASES = {"ex-gap-decomposition": _gap_decomposition, "ex-learn-tau": _learn_tau,
         "ex-cone-linear": _cone_linear, "ex-cone-width": _cone_width,
         "ex-rmg-closed-form": _rmg_closed_form, "ex-ci-width": _ci_width,
         "ex-lambda-transductive": _lambda_transductive, "ex-lambda-centering": _lambda_centering,
         "ex-sup-transductive": _sup_transductive, "ex-sup-penalty": _sup_penalty,
         "ex-robust-equivalence": _robust_equivalence, "ex-robust-moving-text": _robust_moving_text,
         "ex-adapter-lr": _adapter_lr, "ex-adapter-nearest": _adapter_nearest,
         "ex-centroid-shuffle": _centroid_shuffle, "ex-centroid-swap": _centroid_swap}


def test_every_check_has_cases():
    assert sorted(CASES) == available_checks()


@pytest.mark.parametrize("label", sorted(CASES))
def test_right_answer_passes_and_wrong_answers_fail(label, capsys):
    given, right, wrong, *bad_inputs = CASES[label]()
    capsys.readouterr()
    check(label, right, **given)
    assert capsys.readouterr().out.strip() == f"{label}: right."
    for why, answer in wrong.items():
        try:
            check(label, answer, **given)
        except ExerciseCheckError as err:
            msg = str(err)
        else:
            pytest.fail(f"{label}: the wrong answer {why!r} passes")
        assert msg.startswith(f"{label}: not yet right") and "  - " in msg, why
    # the right numbers computed on the wrong inputs (a model trained otherwise, cases built otherwise)
    for why, (override, match) in (bad_inputs[0].items() if bad_inputs else []):
        with pytest.raises(ExerciseCheckError, match=match):
            check(label, right, **{**given, **override})


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


# --------------------------------------------------------------------------- the chapters use them
_GATED = re.compile(r"^```\{solution-start\}\s*([\w-]+)", re.M)
_PLAIN = re.compile(r"^```\{solution\}\s*([\w-]+)", re.M)
_SHORT = "```{admonition} Short answer\n:class: dropdown\n"


def _after_solution_end(text: str, label: str) -> str:
    """The text that follows the gated solution of ``label`` (after its ``{solution-end}`` fence)."""
    start = re.search(r"^```\{solution-start\}\s*" + re.escape(label) + r"\b", text, re.M).end()
    end = re.compile(r"^```\{solution-end\}[^\n]*\n```[^\n]*\n", re.M).search(text, start)
    assert end, f"the solution to {label} has no {{solution-end}}"
    return text[end.end():].lstrip("\n")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_code_exercise_ends_in_its_check_cell(chapter):
    """Right after a gated solution: a visible `exercise-check` cell calling check() with its label."""
    text = chapter.read_text()
    copy = student.student_text(text)
    labels = _GATED.findall(text)
    if labels:
        assert re.search(r"^from gapkit\.exercises import check$", text, re.M), f"{chapter.name} does not import check"
    for label in labels:
        assert label in available_checks(), f"{chapter.name}: exercise {label} has no registered check"
        after = _after_solution_end(text, label)
        cell = re.match(r"```\{code-cell\} ipython3\n:tags: \[exercise-check\]\n(.*?)\n```", after, re.S)
        assert cell, f"{chapter.name}: the solution to {label} is not followed by an exercise-check cell"
        assert f'check("{label}", ' in cell.group(1), f"{chapter.name}: the check cell after {label} checks another"
        assert cell.group(0) in copy, f"the student copy of {chapter.name} drops the check cell of {label}"


def test_every_check_is_used_by_a_chapter():
    used = {label for c in CHAPTERS for label in re.findall(r'\bcheck\("([\w-]+)"', c.read_text())}
    assert set(available_checks()) <= used


def _short_answers(text: str) -> dict[str, str]:
    """Paper exercise label → its short answer's body, for the exercises with a prose ``{solution}``."""
    out = {}
    for label in _PLAIN.findall(text):
        exercise = re.search(r"^:label: " + re.escape(label) + r"$", text, re.M)
        solution = re.search(r"^```\{solution\}\s*" + re.escape(label) + r"\b", text, re.M)
        assert exercise and exercise.end() < solution.start(), f"{label}: no exercise before its solution"
        between = text[exercise.end():solution.start()]
        short = re.search(re.escape(_SHORT) + r"\n(.*?)\n```", between, re.S)
        out[label] = short.group(1).strip() if short else ""
    return out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_paper_exercise_has_a_short_answer_that_the_student_copy_drops(chapter):
    """A folded "Short answer" between a paper exercise and its worked solution, one or two sentences;
    the book and its Colab notebook fold it into <details>, the student copy holds no answer at all
    (issue 28): neither the solution nor the short answer."""
    text = chapter.read_text()
    shorts = _short_answers(text)
    for label, body in shorts.items():
        assert body, f"{chapter.name}: paper exercise {label} has no short answer ({_SHORT!r} before its solution)"
        assert len(re.findall(r"[.?!](?:\s|$)", body)) <= 3, f"{label}: the short answer should be one or two sentences"
    copy = student.student_text(text)
    for label, body in shorts.items():
        assert body not in copy, f"the student copy of {chapter.name} gives away the short answer of {label}"
    assert "{solution}" not in copy and "Short answer" not in copy
    site = cn.site_index()
    for path, doc, n in ((chapter, None, len(shorts)), (student.STUDENT / chapter.name, f"chapters/{chapter.stem}", 0)):
        nb = cn.publish_notebook(path, site=site, doc=doc)
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert markdown.count("<summary><b>Short answer</b></summary>") == n, path
