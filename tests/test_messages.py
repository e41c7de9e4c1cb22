"""Messages that say what happened (issue 14).

Bare library errors where gapkit should speak (numpy's "SeedSequence expects int", "'<' not
supported", a transformers/safetensors/torch error for a broken checkpoint) and misleading
messages (blaming the Hub for a missing GPU, a λ that MeanCentering does not have, a stratified
split for a float seed). Each case checks what the message must say and what it must not.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gapkit import datasets as gds
from gapkit import robustness, shift, train


def _err(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value, str(info.value)


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)), np.arange(40) % 2


# --------------------------------------------------------------------------- seeds and labels


@pytest.mark.parametrize("call", [
    lambda xy: robustness.flip_rate(xy[0], xy[0][:3], seed=42.0),
    lambda xy: robustness.flip_rate(xy[0], xy[0][:3], seed=42.7),
    lambda xy: train.train_head(xy[0], xy[1], xy[0], xy[1], seed=42.0),
    lambda xy: train.train_head(xy[0], xy[1], xy[0], xy[1], seed=42.7),
    lambda xy: train.split_indices(xy[1], 0.2, 42.0),
    lambda xy: gds.make_shapes(n=20, seed=42.0),
], ids=["flip_rate-42.0", "flip_rate-42.7", "train_head-42.0", "train_head-42.7", "split_indices-42.0",
        "make_shapes-42.0"])
def test_float_seeds_get_gapkits_message(xy, call):
    exc, msg = _err(lambda: call(xy))
    assert isinstance(exc, ValueError)
    assert "seed" in msg and "integer" in msg and "42" in msg, msg
    for library_words in ("SeedSequence", "stratif", "random_state", "RandomState", "manual_seed"):
        assert library_words not in msg, msg


@pytest.mark.parametrize("labels", [[0, 1, None, 1] * 5, ["a", "b", None, "a"] * 5, [0.0, 1.0, np.nan, 1.0] * 5],
                         ids=["int-None", "str-None", "float-NaN"])
def test_missing_labels_are_named(xy, labels):
    exc, msg = _err(lambda: train.train_head(xy[0][:20], labels, xy[0][:20], labels, max_epochs=1))
    assert isinstance(exc, ValueError)
    assert "not supported" not in msg and re.search(r"\brows? 2\b|row\(s\) 2\b", msg), msg
    assert re.search(r"drop|fill", msg, re.I), msg


def test_mixed_label_types_are_named(xy):
    labels = [0, "1"] * 10
    exc, msg = _err(lambda: train.train_head(xy[0][:20], labels, xy[0][:20], labels, max_epochs=1))
    assert isinstance(exc, ValueError) and "not supported" not in msg and "mix" in msg, msg


def test_records_as_a_path_says_so():
    exc, msg = _err(lambda: gds.load_captions("coco", records="/data/coco.parquet"))
    assert "available: ['/']" not in msg and "path" in msg and "records" in msg, msg


# --------------------------------------------------------------------------- misleading messages


def test_mean_centering_origin_message_does_not_mention_lambda():
    rows = np.tile([[1.0, 2.0, 3.0]], (5, 1))
    mc = shift.MeanCentering().fit(rows, rows[:, ::-1])
    exc, msg = _err(lambda: mc.transform_image(rows[:2]))
    assert isinstance(exc, ValueError)
    assert "λ" not in msg and "lam" not in msg, msg
    assert "mean" in msg and "renormalize=False" in msg, msg


def test_lambda_shift_origin_message_still_mentions_lambda():
    img = np.array([[1.0, 0.0], [1.0, 0.0]])
    txt = np.array([[-1.0, 0.0], [-1.0, 0.0]])
    ls = shift.LambdaShift(1.0).fit(img, txt)
    exc, msg = _err(lambda: ls.transform_image(img))
    assert "λ" in msg


def test_random_arch_on_a_missing_gpu_does_not_blame_the_hub(monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from gapkit.encoders import EncoderUnavailableError, load_encoder

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    exc, msg = _err(lambda: load_encoder("random:ViT-B-32", device="cuda"))
    assert isinstance(exc, EncoderUnavailableError)
    assert "Hub" not in msg and "tokenizer" not in msg, msg
    assert "CUDA" in msg and "'cpu'" in msg, msg


# --------------------------------------------------------------------------- broken checkpoints

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from transformers import CLIPConfig, CLIPModel

    d = tmp_path_factory.mktemp("clip")
    small = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    cfg = CLIPConfig(text_config=dict(vocab_size=50, max_position_embeddings=16, **small),
                     vision_config=dict(image_size=32, patch_size=16, **small), projection_dim=8)
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(d)
    return d


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def _check_checkpoint_message(msg, filename):
    assert filename in msg, msg
    assert re.search(r"truncated|corrupt|not a valid|cannot be read|could not be read", msg, re.I), msg
    assert re.search(r"download|replace|re-save|save_pretrained|delete", msg, re.I), msg


def test_truncated_config_json_names_the_file(clip_dir, tmp_path):
    from gapkit.encoders import CheckpointError, load_encoder

    d = _copy(clip_dir, tmp_path / "ckpt")
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text[: len(text) // 2])
    exc, msg = _err(lambda: load_encoder(str(d), device="cpu"))
    assert isinstance(exc, CheckpointError), (type(exc), msg)
    _check_checkpoint_message(msg, "config.json")


@pytest.mark.parametrize("how", ["garbage", "truncated", "zero-length"])
def test_broken_safetensors_names_the_file(clip_dir, tmp_path, how):
    from gapkit.encoders import CheckpointError, load_encoder

    d = _copy(clip_dir, tmp_path / "ckpt")
    (weights,) = d.glob("*.safetensors")
    data = weights.read_bytes()
    weights.write_bytes({"garbage": b"\x07" * 4096 + data[4096:], "truncated": data[: len(data) // 2],
                         "zero-length": b""}[how])
    exc, msg = _err(lambda: load_encoder("clip-vit-b32", path=d, device="cpu"))
    assert isinstance(exc, CheckpointError), (type(exc), msg)
    _check_checkpoint_message(msg, weights.name)


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    open_clip = pytest.importorskip("open_clip")
    d = tmp_path_factory.mktemp("oc_cfg")
    cfg = {"embed_dim": 8,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "head_width": 8, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}
    (d / "gapkit-msg-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d)
    return "gapkit-msg-tiny"


@pytest.mark.parametrize("how", ["garbage", "truncated", "zero-length"])
def test_broken_open_clip_weights_file_names_the_file(tiny_arch, tmp_path, how):
    from gapkit.encoders import CheckpointError, load_encoder

    good = tmp_path / "good.pt"
    torch.save(load_encoder(f"random:{tiny_arch}", device="cpu").model.state_dict(), good)
    bad = tmp_path / "weights.pt"
    data = good.read_bytes()
    bad.write_bytes({"garbage": b"\x80\x02garbage" * 500, "truncated": data[: len(data) // 2], "zero-length": b""}[how])
    exc, msg = _err(lambda: load_encoder(f"open_clip:{tiny_arch}", path=bad, device="cpu"))
    assert isinstance(exc, CheckpointError), (type(exc), msg)
    _check_checkpoint_message(msg, "weights.pt")
