"""Known answers for gapkit.cone (chapter 1): random MLPs, cone axes, summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapkit import cone
from gapkit.geometry import mean_pairwise_cosine, mean_resultant_length

WIDTH = 128  # smaller than Liang's 512 keeps the tests fast; the effects are the same


@pytest.fixture(scope="module")
def x():
    return cone.gaussian_inputs(300, WIDTH, seed=1)


@pytest.fixture(scope="module")
def sweep(x):
    return cone.mlp_cone(x, depths=range(1, 9), activations=("relu", None), seeds=(0, 1, 2), width=WIDTH)


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_parameters_follow_liangs_setting():
    width = 512
    mlp = cone.random_mlp(3, width=width, activation="relu", seed=0, in_dim=64)
    assert mlp.depth == 3 and mlp.width == width and mlp.in_dim == 64
    assert mlp.weights[0].shape == (width, 64) and mlp.weights[1].shape == (width, width)
    params = np.concatenate([w.ravel() for w in mlp.weights[1:]] + [b for b in mlp.biases])
    # weights and biases ~ N(0, 1/width): mean 0, std 1/sqrt(width)
    assert abs(params.mean()) < 1e-3
    assert params.std() == pytest.approx(1 / np.sqrt(width), rel=0.01)


def test_linear_network_makes_no_cone(sweep):
    # known answer: an affine map of isotropic zero-mean input stays (nearly) zero-mean,
    # so the mean cosine stays near 0 at every depth; only the small shared biases add a little
    lin = sweep[sweep.activation == "linear"]
    assert set(lin.depth) == set(range(1, 9))
    assert lin.mean_cosine.abs().max() < 0.1
    # depth 1 is a single affine map for every nonlinearity: no cone yet
    assert sweep[sweep.depth == 1].mean_cosine.abs().max() < 0.05


def test_relu_cone_grows_with_depth(sweep):
    relu = sweep[sweep.activation == "relu"].groupby("depth").mean_cosine.mean()
    assert np.all(np.diff(relu.to_numpy()) > 0), relu
    assert relu.loc[8] > 0.5 > relu.loc[1]
    lin = sweep[sweep.activation == "linear"].groupby("depth").mean_cosine.mean()
    assert np.all(relu.loc[2:] > lin.loc[2:] + 0.2)


def test_sweep_columns_and_identity(sweep, x):
    assert list(sweep.columns) == ["activation", "seed", "depth", "mean_cosine", "R", "n", "width"]
    assert len(sweep) == 2 * 3 * 8 and (sweep.n == len(x)).all()
    n = len(x)
    np.testing.assert_allclose(sweep.mean_cosine, (n * sweep.R**2 - 1) / (n - 1), atol=1e-10)


def test_layer_outputs_are_the_shallower_networks(x):
    deep = cone.random_mlp(5, WIDTH, "tanh", seed=3)
    outs = deep.layer_outputs(x)
    for d in (1, 3, 5):
        shallow = cone.random_mlp(d, WIDTH, "tanh", seed=3)
        np.testing.assert_allclose(outs[d - 1], shallow(x), rtol=1e-6)
    # the last layer is linear: a depth-1 network is the affine map x W^T + b
    one = cone.random_mlp(1, WIDTH, "relu", seed=3)
    np.testing.assert_allclose(one(x), x @ one.weights[0].T + one.biases[0], rtol=1e-5, atol=1e-6)


def test_deterministic_for_a_fixed_seed(x):
    a = cone.random_mlp(4, WIDTH, "relu", seed=7)
    b = cone.random_mlp(4, WIDTH, "relu", seed=7)
    c = cone.random_mlp(4, WIDTH, "relu", seed=8)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.allclose(a(x), c(x))
    s1 = cone.mlp_cone(x, depths=[2, 4], activations=["sigmoid"], seeds=[5], width=WIDTH)
    s2 = cone.mlp_cone(x, depths=[2, 4], activations=["sigmoid"], seeds=[5], width=WIDTH)
    assert s1.equals(s2)


def test_different_seeds_give_different_cones(x):
    cos = cone.mlp_axis_cosines(x, depth=6, activation="relu", seeds=(0, 1, 2), width=WIDTH).to_numpy()
    np.testing.assert_allclose(np.diag(cos), 1.0)
    off = cos[~np.eye(3, dtype=bool)]
    assert np.all(off < 0.5), cos
    # while each seed's own cone is narrow
    r = [mean_resultant_length(cone.random_mlp(6, WIDTH, "relu", seed=s)(x)) for s in range(3)]
    assert min(r) > 0.8


def test_activation_names():
    x = np.linspace(-3, 3, 7)[None, :]
    np.testing.assert_allclose(cone.ACTIVATIONS["sigmoid"](x), 1 / (1 + np.exp(-x)))
    assert cone.random_mlp(2, 8, None).activation == "linear"
    assert cone.random_mlp(2, 8, "None").activation == "linear"
    with pytest.raises(ValueError, match="unknown activation"):
        cone.random_mlp(2, 8, "gelu")
    with pytest.raises(ValueError, match="depth"):
        cone.random_mlp(0, 8)
    with pytest.raises(ValueError, match="expected shape"):
        cone.random_mlp(2, 8, in_dim=4)(np.ones((3, 5)))


def test_to_torch_matches_numpy(x):
    torch = pytest.importorskip("torch")
    mlp = cone.random_mlp(3, WIDTH, "sigmoid", seed=2)
    with torch.no_grad():
        out = mlp.to_torch()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, mlp(x), rtol=1e-4, atol=1e-5)


def test_cone_axis_and_axis_cosines():
    rng = np.random.default_rng(0)
    e = np.eye(6)
    a = e[0] * 5 + 0.1 * rng.standard_normal((50, 6))
    b = e[1] * 5 + 0.1 * rng.standard_normal((50, 6))
    np.testing.assert_allclose(cone.cone_axis(a), e[0], atol=0.02)
    cos = cone.axis_cosines({("image", 0): a, ("text", 0): b, ("image", 1): 3 * a})
    assert cos.shape == (3, 3)
    assert cos.loc[("image", 0), ("image", 1)] == pytest.approx(1.0)
    assert abs(cos.loc[("image", 0), ("text", 0)]) < 0.05
    with pytest.raises(ValueError, match="no axis"):
        cone.cone_axis(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="at least two"):
        cone.axis_cosines([a])


def test_cone_summary_and_pairwise_cosines():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5)) + np.array([3.0, 0, 0, 0, 0])
    table = cone.cone_summary({("image", 0): x, ("text", 0): -x})
    assert list(table.columns) == ["modality", "seed", "n", "R", "mean_cosine"]
    u = unit(x)
    naive = (u @ u.T)[~np.eye(40, dtype=bool)].mean()
    assert table.mean_cosine.iloc[0] == pytest.approx(naive, abs=1e-12)
    assert table.R.iloc[0] == pytest.approx(np.linalg.norm(u.mean(0)), abs=1e-12)
    # within-set cosines: all distinct pairs, and their mean is the identity's
    cos = cone.pairwise_cosines(x, max_samples=None)
    assert cos.shape == (40 * 39 // 2,)
    assert cos.mean() == pytest.approx(mean_pairwise_cosine(x), abs=1e-12)
    assert cone.pairwise_cosines(x, max_samples=10).shape == (45,)
    paired = cone.pairwise_cosines(x, -x, paired=True)
    np.testing.assert_allclose(paired, -1.0)
    assert cone.pairwise_cosines(x, x[:7]).shape == (40 * 7,)


def test_joint_pca_separates_two_cones():
    rng = np.random.default_rng(2)
    a = np.eye(8)[0] * 4 + rng.standard_normal((30, 8)) * 0.2
    b = np.eye(8)[1] * 4 + rng.standard_normal((20, 8)) * 0.2
    proj, explained = cone.joint_pca({"a": a, "b": b})
    assert proj["a"].shape == (30, 2) and proj["b"].shape == (20, 2)
    assert explained[0] > 0.8
    # PC1 separates the cones: the two groups fall on opposite sides
    assert np.sign(proj["a"][:, 0]).min() == np.sign(proj["a"][:, 0]).max() != np.sign(proj["b"][:, 0]).max()


class _FakeEncoder:
    calls: list[int] = []

    def embed_texts(self, texts, progress=False):
        self.calls.append(len(texts))
        return np.array([[len(t), t.count("a") + 1.0] for t in texts], dtype=np.float32)

    def embed_images(self, images, progress=False):
        return np.asarray(images, dtype=np.float32).reshape(len(images), -1)[:, :2] + 1


def test_embed_pairs_embeds_each_text_once():
    enc = _FakeEncoder()
    texts = ["a cat", "a dog", "a cat", "two cats", "a dog"]
    images = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    img, txt = cone.embed_pairs(enc, images, texts)
    assert enc.calls == [3]
    np.testing.assert_array_equal(txt, enc.embed_texts(texts))
    assert img.shape == (5, 2)
    with pytest.raises(ValueError, match="pair"):
        cone.embed_pairs(enc, images, texts[:4])


def test_out_dim_changes_only_the_last_layer():
    full = cone.random_mlp(4, 32, "relu", seed=3)
    head = cone.random_mlp(4, 32, "relu", seed=3, out_dim=3)
    assert head.width == 32 and head.out_dim == 3 and full.out_dim == 32
    for a, b in zip(full.weights[:-1], head.weights[:-1]):  # layers drawn in order: same hidden layers
        np.testing.assert_array_equal(a, b)
    x = cone.gaussian_inputs(50, 32, seed=0)
    assert head(x).shape == (50, 3)
    np.testing.assert_allclose(head.to_torch()(torch.from_numpy(x)).detach().numpy(), head(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="out_dim must be at least 1"):
        cone.random_mlp(2, 8, out_dim=0)


def test_cone_cap_of_a_known_cap():
    # rows at exactly 10, 20, ..., 90 degrees from the north pole, spread in azimuth so the axis is the pole
    angles = np.radians(np.repeat(np.arange(10, 100, 10), 4))
    phi = np.tile(np.radians([0, 90, 180, 270]), 9)
    x = np.column_stack([np.sin(angles) * np.cos(phi), np.sin(angles) * np.sin(phi), np.cos(angles)])
    cap = cone.cone_cap(x, coverage=1.0)
    np.testing.assert_allclose(cap.axis, [0, 0, 1], atol=1e-12)
    assert cap.radius_deg == pytest.approx(90.0)
    assert cone.cone_cap(x, coverage=0.5).radius_deg == pytest.approx(50.0)
    south = cone.cone_cap(-x[angles < np.radians(35)], coverage=1.0)  # 30 degrees around the south pole
    assert cap.angle_to(south) == pytest.approx(180.0)
    assert south.radius_deg == pytest.approx(30.0)
    assert not cap.overlaps(south)  # 90 + 30 degrees < 180 degrees between the axes
    assert cap.overlaps(cap)
    with pytest.raises(ValueError, match="coverage"):
        cone.cone_cap(x, coverage=0.0)
