"""gapkit.encoders: loaders, local checkpoints, preprocessing, tokenisation, errors, fingerprints.

Every checkpoint here is built offline with random weights: the real architectures'
classes and config fields at tiny sizes (CLIPConfig, SiglipConfig, an open_clip ViT,
a BiomedCLIP-style timm ViT + BERT tower with a 256-token context). They are loaded
through the same code path as the Hub names; only ``path=`` differs.
"""

from __future__ import annotations

import io
import json
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

import gapkit  # noqa: E402
from gapkit import encoders as enc  # noqa: E402
from gapkit.encoders import (  # noqa: E402
    EncoderUnavailableError,
    GatedModelError,
    available_encoders,
    load_encoder,
    register_encoder,
)

WORDS = (
    "a photo of an the cat dog chest x-ray skin lesion fundus patient diagnosed via histo age sex male "
    "female localization back face"
).split()
TEXTS = ["a photo of a cat", "a photo of a dog", "chest x-ray", "Patient diagnosed via histo. Age: 45."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network in tests: make the Hub raise at once, whatever the caller's environment says."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)


def _images(n=5, seed=0):
    rng = np.random.default_rng(seed)
    sizes = [(61, 75), (40, 100), (96, 96), (101, 53), (70, 70), (33, 90)]
    return [Image.fromarray(rng.integers(0, 256, (*sizes[i % len(sizes)], 3), dtype=np.uint8)) for i in range(n)]


def _cos_rows(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def _word_tokenizer(kind):
    """A small fast tokenizer saved in the transformers layout (CLIP-style or SigLIP-style specials)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(WORDS)}}
    if kind == "clip":
        bos, eos = "<|startoftext|>", "<|endoftext|>"
        vocab[bos] = len(vocab)
        vocab[eos] = len(vocab)  # highest id, as in CLIP (pooling takes the eos position)
        template = f"{bos} $A {eos}"
        specials = [(bos, vocab[bos]), (eos, vocab[eos])]
        kw = dict(bos_token=bos, eos_token=eos, pad_token=eos, unk_token="[UNK]")
    else:
        eos = "</s>"
        vocab[eos] = len(vocab)
        template = f"$A {eos}"
        specials = [(eos, vocab[eos])]
        kw = dict(eos_token=eos, pad_token=eos, unk_token="[UNK]")
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    return PreTrainedTokenizerFast(tokenizer_object=tk, **kw), vocab


# ----------------------------------------------------------------------------------------------
# checkpoints


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    d = tmp_path_factory.mktemp("clip")
    tok, vocab = _word_tokenizer("clip")
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=77, eos_token_id=vocab["<|endoftext|>"],
                         bos_token_id=vocab["<|startoftext|>"], pad_token_id=vocab["<|endoftext|>"], **small),
        vision_config=dict(image_size=64, patch_size=16, **small),
        projection_dim=24,  # differs from the towers' width: catches taking the un-projected output
    )
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    d = tmp_path_factory.mktemp("siglip")
    tok, vocab = _word_tokenizer("siglip")
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    cfg = SiglipConfig(
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=64, pad_token_id=vocab["</s>"],
                         eos_token_id=vocab["</s>"], **small),
        vision_config=dict(image_size=48, patch_size=16, **small),
    )
    torch.manual_seed(0)
    model = SiglipModel(cfg)
    with torch.no_grad():
        model.logit_scale.fill_(np.log(10.0))
        model.logit_bias.fill_(-10.0)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    SiglipImageProcessor(size={"height": 48, "width": 48}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(d)
    return d


TINY_OC = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    """Register a tiny open_clip architecture (built-in CLIP tokenizer) and one with a Hub tokenizer."""
    import open_clip

    d = tmp_path_factory.mktemp("oc_cfg")
    (d / "gapkit-tiny-vit.json").write_text(json.dumps(TINY_OC))
    hub_tok = json.loads(json.dumps(TINY_OC))
    hub_tok["text_cfg"]["hf_tokenizer_name"] = "gapkit-tests/no-such-tokenizer"
    (d / "gapkit-tiny-hubtok.json").write_text(json.dumps(hub_tok))
    open_clip.add_model_config(d)
    return "gapkit-tiny-vit"


@pytest.fixture(scope="module")
def biomed_dir(tmp_path_factory):
    """A BiomedCLIP-style open_clip directory (Hub layout): timm ViT + BERT text tower, context 256."""
    import open_clip
    from transformers import BertConfig, BertTokenizerFast

    d = tmp_path_factory.mktemp("biomedclip")
    bert = d / "bert"
    bert.mkdir()
    BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=256).save_pretrained(bert)
    vocab_file = d / "vocab.txt"
    vocab_file.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ":", ","] + WORDS) + "\n")
    BertTokenizerFast(vocab_file=str(vocab_file)).save_pretrained(d)
    vocab_file.unlink()
    cfg = {
        "model_cfg": {
            "embed_dim": 16,
            "vision_cfg": {"timm_model_name": "test_vit", "timm_model_pretrained": False,  # a tiny timm ViT
                           "timm_pool": "", "timm_proj": "linear", "image_size": 160},
            "text_cfg": {"hf_model_name": str(bert), "hf_tokenizer_name": str(bert), "hf_proj_type": "mlp",
                         "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 256},
        },
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
    }
    (d / "open_clip_config.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{d}", load_weights=False, pretrained_text=False)
    torch.save(model.state_dict(), d / "open_clip_pytorch_model.bin")
    return d


@pytest.fixture(scope="module")
def tiny_random(tiny_arch):
    return load_encoder(f"random:{tiny_arch}", device="cpu")


# ----------------------------------------------------------------------------------------------
# names, registry, errors


def test_available_and_unknown_name():
    names = available_encoders()
    for n in ["clip-vit-b32", "siglip-b16-384", "biomedclip", "medsiglip-448", "mini-clip", "random:<arch>",
              "open_clip:<arch>/<pretrained>"]:
        assert n in names
    with pytest.raises(ValueError) as err:
        load_encoder("clip-vit-b33")
    msg = str(err.value)
    assert "clip-vit-b33" in msg and "clip-vit-b32" in msg and "random:<arch>" in msg
    assert gapkit.load_encoder is load_encoder


def test_lazy_registration(monkeypatch, tmp_path):
    """Names in _LAZY import their module on first use; the module registers the factory."""
    (tmp_path / "gapkit_fake_encoder_mod.py").write_text(
        "from gapkit.encoders import Encoder, register_encoder\n"
        "class Fake(Encoder):\n"
        "    def __init__(self, device, precision, **kw):\n"
        "        self.name, self.kw = 'fake-lazy', kw\n"
        "register_encoder('fake-lazy', Fake)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(enc._LAZY, "fake-lazy", "gapkit_fake_encoder_mod")
    monkeypatch.setattr(enc._registry, "_REGISTRY", dict(enc._REGISTRY))  # where load_encoder looks it up
    e = load_encoder("fake-lazy", seed=3)
    assert e.name == "fake-lazy" and e.kw == {"seed": 3}
    assert enc._LAZY["mini-clip"] == "gapkit.contrastive"


def test_register_encoder_passes_kwargs(monkeypatch):
    monkeypatch.setattr(enc._registry, "_REGISTRY", dict(enc._REGISTRY))  # where load_encoder looks it up
    seen = {}
    register_encoder("dummy", lambda **kw: seen.update(kw) or enc.Encoder())
    load_encoder("dummy", device="cpu", precision="fp32", foo=1)
    assert seen == {"device": "cpu", "precision": "fp32", "foo": 1}


@pytest.mark.parametrize(
    "name", ["clip-vit-b32", "siglip-b16-384", "biomedclip", "open_clip:ViT-B-32/laion2b_s34b_b79k"]
)
def test_offline_hub_error_says_what_to_do(name):
    with pytest.raises(EncoderUnavailableError) as err:
        load_encoder(name, device="cpu")
    msg = str(err.value)
    assert repr(name) in msg
    assert "path=" in msg and "random:ViT-B-32" in msg and "mini-clip" in msg and "Colab" in msg
    assert not isinstance(err.value, GatedModelError)


def test_offline_gated_model_mentions_login_and_terms():
    with pytest.raises(EncoderUnavailableError) as err:
        load_encoder("medsiglip-448", device="cpu")
    msg = str(err.value)
    assert "'medsiglip-448'" in msg and "gated" in msg
    assert "huggingface-cli login" in msg and "HF_TOKEN" in msg
    assert "https://huggingface.co/google/medsiglip-448" in msg and "accept" in msg


def test_gated_repo_error_from_the_hub(monkeypatch):
    """When the Hub answers 'gated' (online without a token), the error is a GatedModelError."""
    import transformers
    from huggingface_hub.errors import GatedRepoError

    response = types.SimpleNamespace(headers={}, request=None)

    def fake(*args, **kwargs):
        try:
            raise GatedRepoError("403 Client Error. Cannot access gated repo google/medsiglip-448", response=response)
        except GatedRepoError as exc:
            raise OSError("You are trying to access a gated repo.") from exc

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake)
    with pytest.raises(GatedModelError) as err:
        load_encoder("medsiglip-448", device="cpu")
    msg = str(err.value)
    assert "huggingface-cli login" in msg and "HF_TOKEN" in msg and "accept the terms" in msg


def test_random_arch_with_hub_tokenizer_fails_clearly(tiny_arch):
    with pytest.raises(EncoderUnavailableError) as err:
        load_encoder("random:gapkit-tiny-hubtok", device="cpu")
    assert "random:ViT-B-32" in str(err.value) and "Hugging Face Hub" in str(err.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        load_encoder("random:NoSuchArch-9", device="cpu")
    with pytest.raises(ValueError, match="name the pretrained weights"):
        load_encoder("open_clip:ViT-B-32", device="cpu")
    with pytest.raises(ValueError, match="precision"):
        enc.resolve_precision("fp8", "cpu")
    assert enc.resolve_precision("auto", "cpu") == "fp32"
    assert enc.resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((7, 0), "fp16"), ((6, 1), "fp16"),
                                                  ((8, 0), "bf16"), ((8, 6), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_follows_compute_capability(monkeypatch, capability, expected):
    """bf16 only from sm_80 on; a T4 (sm_75) gets fp16 although it 'supports' (emulates) bf16."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 answers
    seen = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: seen.append(d) or capability)
    assert enc.resolve_precision("auto", "cuda") == expected
    assert enc.resolve_precision("auto", "cuda:1") == expected
    assert [str(d) for d in seen] == ["cuda", "cuda:1"]  # asked about the device it will run on
    assert enc.resolve_precision("bf16", "cuda") == "bf16"  # an explicit choice is kept


# ----------------------------------------------------------------------------------------------
# random:<arch> and open_clip checkpoints


def test_random_vit_b32_offline():
    """The book's offline stand-in: real ViT-B/32 towers, random weights, bundled CLIP tokenizer."""
    e = load_encoder("random:ViT-B-32", device="cpu")
    assert e.dim == 512 and e.precision == "fp32" and e.device == "cpu"
    assert e.model_id == "random init, seed 0" and abs(e.logit_scale - 1 / 0.07) < 1e-3
    tokens = e.tokenize(["a photo of a cat"])
    assert tuple(tokens.shape) == (1, 77) and tokens[0, 0].item() == 49406  # <start_of_text>
    x = e.embed_texts(TEXTS[:2], progress=False)
    v = e.embed_images(np.zeros((2, 40, 50, 3), np.uint8), progress=False)
    assert x.shape == (2, 512) and v.shape == (2, 512) and x.dtype == np.float32
    assert np.isfinite(x).all() and np.isfinite(v).all()
    # the cone at initialisation: random towers put every text in a narrow cone
    assert _cos_rows(x[:1], x[1:]).item() > 0.5


def test_random_seed_is_deterministic(tiny_arch, tiny_random):
    again = load_encoder(f"random:{tiny_arch}", device="cpu")
    other = load_encoder(f"random:{tiny_arch}", device="cpu", seed=1)
    assert again.fingerprint() == tiny_random.fingerprint() != other.fingerprint()
    np.testing.assert_array_equal(
        again.embed_texts(TEXTS, progress=False), tiny_random.embed_texts(TEXTS, progress=False)
    )
    state = torch.random.get_rng_state()
    load_encoder(f"random:{tiny_arch}", device="cpu", seed=5)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched


def test_open_clip_weights_file(tiny_arch, tiny_random, tmp_path):
    f = tmp_path / "tiny.pt"
    torch.save(tiny_random.model.state_dict(), f)
    e = load_encoder(f"open_clip:{tiny_arch}", path=f, device="cpu")
    assert e.model_id == str(f) and e.dim == 16
    assert e.fingerprint() == tiny_random.fingerprint()
    imgs = _images(3)
    np.testing.assert_allclose(e.embed_images(imgs, progress=False), tiny_random.embed_images(imgs, progress=False),
                               atol=1e-5)
    np.testing.assert_allclose(e.embed_texts(TEXTS, progress=False), tiny_random.embed_texts(TEXTS, progress=False),
                               atol=1e-5)
    # change one weight: the fingerprint changes
    sd = tiny_random.model.state_dict()
    sd = {k: v.clone() for k, v in sd.items()}
    sd["visual.proj"] += 0.01
    torch.save(sd, f)
    assert load_encoder(f"open_clip:{tiny_arch}", path=f, device="cpu").fingerprint() != tiny_random.fingerprint()


def test_open_clip_matches_reference_pipeline(tiny_random):
    """Our uint8 worker transform + on-device normalisation == open_clip's own eval transform."""
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    ref_tf = image_transform_v2(PreprocessCfg(**open_clip.get_model_preprocess_cfg(tiny_random.model)), is_train=False)
    imgs = _images(4)
    ref = torch.stack([ref_tf(im) for im in imgs])
    ours = tiny_random.preprocess(imgs)
    assert ours.shape == ref.shape == (4, 3, 32, 32)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    with torch.no_grad():
        want = tiny_random.model.encode_image(ref).numpy()
        want_t = tiny_random.model.encode_text(open_clip.get_tokenizer("gapkit-tiny-vit")(TEXTS)).numpy()
    np.testing.assert_allclose(tiny_random.embed_images(imgs, progress=False), want, atol=1e-4)
    np.testing.assert_allclose(tiny_random.embed_texts(TEXTS, progress=False), want_t, atol=1e-4)


def test_biomedclip_local_dir(biomed_dir):
    """BiomedCLIP family through path=: open_clip local-dir layout, HF BERT tower, 256-token context."""
    import open_clip

    e = load_encoder("biomedclip", path=biomed_dir, device="cpu")
    assert e.name == "biomedclip" and e.model_id == str(biomed_dir) and e.dim == 16
    tokens = e.tokenize(TEXTS)
    assert tuple(tokens.shape) == (len(TEXTS), 256)
    ref = open_clip.create_model(f"local-dir:{biomed_dir}")
    ref.eval()
    imgs = _images(3)
    with torch.no_grad():
        want_v = ref.encode_image(e.preprocess(imgs)).numpy()
        want_t = ref.encode_text(tokens).numpy()
    np.testing.assert_allclose(e.embed_images(imgs, progress=False), want_v, atol=1e-4)
    np.testing.assert_allclose(e.embed_texts(TEXTS, progress=False), want_t, atol=1e-4)
    # the same directory also loads by path alone
    assert load_encoder(str(biomed_dir), device="cpu").fingerprint() == e.fingerprint()


# ----------------------------------------------------------------------------------------------
# transformers checkpoints


def test_clip_local_checkpoint(clip_dir):
    from transformers import CLIPModel

    e = load_encoder("clip-vit-b32", path=clip_dir, device="cpu")
    assert e.family == "clip" and e.dim == 24 and e.logit_bias is None and e.model_id == str(clip_dir)
    model = CLIPModel.from_pretrained(clip_dir).eval()
    assert abs(e.logit_scale - float(model.logit_scale.detach().exp())) < 1e-5
    tok = e.tokenize(TEXTS)
    assert set(tok) == {"input_ids", "attention_mask"}
    assert tok["input_ids"].shape[1] < 77  # CLIP pads to the longest text in the batch, not to 77
    imgs = _images(5)
    with torch.no_grad():
        out = model(input_ids=tok["input_ids"][:4], attention_mask=tok["attention_mask"][:4],
                    pixel_values=e.preprocess(imgs[:4]))
    v = e.embed_images(imgs, progress=False)
    x = e.embed_texts(TEXTS, progress=False)
    assert v.shape == (5, 24) and x.shape == (4, 24)
    # the model's own forward returns normalised projected embeddings: same directions as ours
    np.testing.assert_allclose(_cos_rows(v[:4], out.image_embeds.numpy()), 1, atol=1e-5)
    np.testing.assert_allclose(_cos_rows(x, out.text_embeds.numpy()), 1, atol=1e-5)
    # zero-shot logits use the model's scale
    np.testing.assert_allclose(e.zero_shot_logits(v[:4], x), out.logits_per_image.numpy(), atol=1e-3)
    # path given as the name: model type detected from config.json
    assert load_encoder(str(clip_dir), device="cpu").family == "clip"


def test_clip_preprocessing_matches_transformers(clip_dir):
    """Resize (shortest edge, bicubic), centre crop, rescale, normalise == transformers' PIL processor."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers import AutoImageProcessor

    e = load_encoder("clip-vit-b32", path=clip_dir, device="cpu")
    imgs = _images(6) + [Image.fromarray(np.random.default_rng(1).integers(0, 256, (80, 67), dtype=np.uint8))]
    ours = e.preprocess(imgs)
    pil = CLIPImageProcessorPil.from_pretrained(clip_dir)
    ref = torch.as_tensor(np.stack([pil(images=im, return_tensors="np")["pixel_values"][0] for im in imgs]))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)
    # the default (torchvision) backend resizes tensors instead of PIL images: close, not identical
    tv = AutoImageProcessor.from_pretrained(clip_dir)
    ref_tv = torch.as_tensor(np.stack([tv(images=im, return_tensors="np")["pixel_values"][0] for im in imgs]))
    assert (ours - ref_tv).abs().mean() < 0.05


def test_siglip_local_checkpoint(siglip_dir):
    from transformers import SiglipModel
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    e = load_encoder("siglip-b16-384", path=siglip_dir, device="cpu")
    assert e.family == "siglip" and e.dim == 32 and e.max_length == 64
    assert abs(e.logit_scale - 10.0) < 1e-4 and abs(e.logit_bias + 10.0) < 1e-6
    tok = e.tokenize(TEXTS)
    assert set(tok) == {"input_ids"}  # SigLIP was trained without an attention mask
    assert tuple(tok["input_ids"].shape) == (4, 64)  # padding="max_length"
    imgs = _images(4)
    pil = SiglipImageProcessorPil.from_pretrained(siglip_dir)
    ref_px = torch.as_tensor(np.stack([pil(images=im, return_tensors="np")["pixel_values"][0] for im in imgs]))
    torch.testing.assert_close(e.preprocess(imgs), ref_px, atol=1e-4, rtol=0)
    model = SiglipModel.from_pretrained(siglip_dir).eval()
    with torch.no_grad():
        out = model(input_ids=tok["input_ids"], pixel_values=ref_px)
    v = e.embed_images(imgs, progress=False)
    x = e.embed_texts(TEXTS, progress=False)
    np.testing.assert_allclose(_cos_rows(v, out.image_embeds.numpy()), 1, atol=1e-5)
    np.testing.assert_allclose(_cos_rows(x, out.text_embeds.numpy()), 1, atol=1e-5)
    np.testing.assert_allclose(e.zero_shot_logits(v, x), out.logits_per_image.numpy(), atol=1e-3)
    # a SigLIP directory is refused where a CLIP one is expected
    with pytest.raises(ValueError, match="expects a 'clip' checkpoint"):
        load_encoder("clip-vit-b32", path=siglip_dir, device="cpu")


def test_local_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_encoder("clip-vit-b32", path=tmp_path / "missing", device="cpu")
    with pytest.raises(ValueError, match="not a checkpoint directory"):
        load_encoder(str(tmp_path), device="cpu")
    with pytest.raises(ValueError, match="open_clip_config.json"):
        load_encoder("biomedclip", path=tmp_path, device="cpu")


# ----------------------------------------------------------------------------------------------
# inputs, batching, workers, precision


def test_image_input_forms_agree(tiny_random, tmp_path):
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (6, 45, 60, 3), dtype=np.uint8)
    ref = tiny_random.embed_images(arr, progress=False, batch_size=4)
    pils = [Image.fromarray(a) for a in arr]
    paths, blobs = [], []
    for i, im in enumerate(pils):
        p = tmp_path / f"im{i}.png"
        im.save(p)
        paths.append(str(p))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        blobs.append(buf.getvalue())
    for form in (pils, paths, blobs, [{"bytes": b, "path": None} for b in blobs], tiny_random.preprocess(arr),
                 tiny_random.preprocess(arr).numpy()):
        np.testing.assert_allclose(tiny_random.embed_images(form, progress=False, batch_size=4), ref, atol=1e-5)
    # DataLoader workers give the same result, in order
    np.testing.assert_allclose(tiny_random.embed_images(paths, progress=False, batch_size=2, num_workers=2), ref,
                               atol=1e-5)


def test_input_errors(tiny_random, tmp_path):
    with pytest.raises(TypeError, match="wrap a single image"):
        tiny_random.embed_images(Image.new("RGB", (10, 10)), progress=False)
    with pytest.raises(TypeError, match="wrap a single string"):
        tiny_random.embed_texts("a cat", progress=False)
    with pytest.raises(TypeError, match="items \\[1\\]"):
        tiny_random.embed_texts(["a", None], progress=False)
    with pytest.raises(ValueError, match="uint8"):
        tiny_random.embed_images(np.zeros((2, 8, 8, 3), np.int64), progress=False)
    with pytest.raises(ValueError, match="image 1"):
        tiny_random.embed_images([Image.new("RGB", (8, 8)), str(tmp_path / "nope.png")], progress=False)
    assert tiny_random.embed_texts([], progress=False).shape == (0, 16)


def test_batches_and_progress_bar(tiny_random, capsys):
    x1 = tiny_random.embed_texts(TEXTS * 3, batch_size=5, progress=True)
    x2 = tiny_random.embed_texts(TEXTS * 3, batch_size=256, progress=False)
    np.testing.assert_allclose(x1, x2, atol=1e-5)
    assert "texts" in capsys.readouterr().err
    tiny_random.embed_texts(TEXTS, progress=False)
    assert capsys.readouterr().err == ""


def test_bf16_on_cpu_is_close(tiny_arch, tiny_random):
    e = load_encoder(f"random:{tiny_arch}", device="cpu", precision="bf16")
    assert e.precision == "bf16"
    x = e.embed_texts(TEXTS, progress=False)
    assert x.dtype == np.float32
    assert _cos_rows(x, tiny_random.embed_texts(TEXTS, progress=False)).min() > 0.98
    assert e.fingerprint() == tiny_random.fingerprint()  # weights unchanged: precision is not a weight


def test_fingerprint_is_cheap_and_hex(tiny_arch):
    e = load_encoder(f"random:{tiny_arch}", device="cpu")
    fp = e.fingerprint()
    assert len(fp) == 16 and int(fp, 16) >= 0 and e.fingerprint() == fp
    assert enc.weights_fingerprint(e.model) != enc.weights_fingerprint(e.model, {"size": 1})
    # memoised, but an in-place weight update (e.g. an optimizer step) is noticed
    with torch.no_grad():
        e.model.logit_scale.add_(0.5)
    assert e.fingerprint() != fp


# ----------------------------------------------------------------------------------------------
# device-side preprocessing (preprocess_on="device")


def _photo(h, w, seed, mode="RGB"):
    """A smooth 'photo' (upsampled colour field + noise): what real images look like to a resize filter."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
    a = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC)).astype(np.int16)
    im = Image.fromarray(np.clip(a + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8))
    return im.convert(mode)


def _encoded(im, fmt):
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _device_pixels(e, items):
    """What the device path feeds the model (uint8 values as float), decoding JPEGs with torchvision."""
    from gapkit import _imagepipe

    parts = [_imagepipe.load_raw(it, raw_jpeg=True) for it in items]
    return _imagepipe.to_model_size(parts, e._resize_spec, "cpu")


def _pil_pixels(e, items):
    return torch.stack([e._image_transform(enc._open_image(it)) for it in items]).float()


@pytest.mark.parametrize("family", ["open_clip", "clip", "siglip"])
def test_device_resize_matches_pil(family, tiny_random, clip_dir, siglip_dir):
    """torch resize + crop on the device == each family's PIL preprocessing, within one grey level."""
    e = {"open_clip": lambda: tiny_random,
         "clip": lambda: load_encoder("clip-vit-b32", path=clip_dir, device="cpu"),
         "siglip": lambda: load_encoder("siglip-b16-384", path=siglip_dir, device="cpu")}[family]()
    assert e._resize_spec is not None
    # photos shrunk on both axes (the common case): within one grey level, almost everywhere equal
    for h, w in [(240, 320), (320, 240), (480, 640)]:
        items = [_photo(h, w, h + w)]
        d = (_device_pixels(e, items) - _pil_pixels(e, items)).abs()
        assert d.max() <= 1 and d.mean() < 0.02, ((h, w), d.max(), d.mean())
    # up-sampling, mixed up/down, odd sizes (crop offsets), grayscale and RGBA sources: Pillow sometimes
    # resamples the vertical axis first, so the uint8 rounding between passes differs: a few grey levels
    ims = [_photo(h, w, i) for i, (h, w) in enumerate([(240, 320), (320, 240), (61, 75), (33, 90), (65, 64)])]
    ims += [_photo(50, 70, 7, "L"), _photo(90, 45, 8, "RGBA")]
    for items in ([im] for im in ims):  # one at a time: sizes differ
        got, want = _device_pixels(e, items), _pil_pixels(e, items)
        assert got.shape == want.shape
        d = (got - want).abs()
        assert d.max() <= 3 and d.mean() < 0.3, (items[0].size, items[0].mode, d.max(), d.mean())
    # several sizes in one batch: grouped by size, put back in order
    mixed = ims[:5]
    np.testing.assert_array_equal(_device_pixels(e, mixed).numpy(),
                                  torch.cat([_device_pixels(e, [im]) for im in mixed]).numpy())


def test_alpha_probe_matches_the_installed_transformers():
    """Newer transformers paint transparency onto white, 5.15 (Colab's) drops alpha: the probe says which."""
    from transformers.image_transforms import convert_to_rgb

    im = Image.fromarray(np.dstack([np.full((4, 4, 3), 20, np.uint8), np.zeros((4, 4, 1), np.uint8)]), "RGBA")
    out = np.asarray(convert_to_rgb(im))  # fully transparent dark grey: white if composited, grey if dropped
    assert set(np.unique(out)) <= {20, 255}
    assert enc.transformers_composites_alpha() == (out.min() == 255)


@pytest.mark.parametrize("composites", [True, False])
def test_transparent_pixels_follow_the_probe(clip_dir, monkeypatch, composites):
    """The PIL path paints a transparent image white or drops its alpha, as the probe reports; the device
    path agrees; the cache fingerprint tells the two apart."""
    monkeypatch.setattr(enc._images, "_COMPOSITES_ALPHA", composites)  # the probe memoises it there
    im = Image.fromarray(np.dstack([np.full((64, 64, 3), 20, np.uint8), np.zeros((64, 64, 1), np.uint8)]), "RGBA")
    c = load_encoder("clip-vit-b32", path=clip_dir, device="cpu")
    mean, std = torch.tensor(c._mean)[:, None, None], torch.tensor(c._std)[:, None, None]
    pixels = (c.preprocess([im])[0] * std + mean) * 255  # back to grey levels
    torch.testing.assert_close(pixels, torch.full_like(pixels, 255.0 if composites else 20.0), atol=0.05, rtol=0)
    v_cpu = c.embed_images([im], progress=False)
    c.preprocess_on = "device"
    assert _cos_rows(c.embed_images([np.asarray(im)], progress=False), v_cpu).min() > 0.9999
    assert c._config()["preprocess"]["composite_alpha"] is composites


def test_transparent_images_follow_each_family(clip_dir, tiny_random):
    """transformers handles transparency as its installed version does (painted onto white, or alpha dropped
    in 5.15); open_clip drops alpha. Both paths, every input form."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    rgba = np.asarray(_photo(80, 96, 3, "RGBA")).copy()
    rgba[..., 3] = np.linspace(0, 255, 96).astype(np.uint8)[None, :]  # transparent on the left
    im = Image.fromarray(rgba, "RGBA")
    c = load_encoder("clip-vit-b32", path=clip_dir, device="cpu")
    ref = torch.as_tensor(CLIPImageProcessorPil.from_pretrained(clip_dir)(images=im, return_tensors="np")[
        "pixel_values"])
    torch.testing.assert_close(c.preprocess([im]), ref, atol=1e-4, rtol=0)
    for items in ([im], rgba[None], [_encoded(im, "PNG")]):
        c.preprocess_on = "cpu"
        v_cpu = c.embed_images(items, progress=False)
        c.preprocess_on = "device"
        assert _cos_rows(c.embed_images(items, progress=False), v_cpu).min() > 0.9999
    # open_clip: its own transform (Pillow resizes RGBA premultiplied, then the alpha is dropped) on the
    # CPU path; the device path drops alpha before resizing, which differs only at part-transparent pixels
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    ref_tf = image_transform_v2(PreprocessCfg(**open_clip.get_model_preprocess_cfg(tiny_random.model)), is_train=False)
    torch.testing.assert_close(tiny_random.preprocess([im]), ref_tf(im)[None], atol=1e-5, rtol=0)
    e = load_encoder(f"random:{tiny_random.name.split(':', 1)[1]}", device="cpu", preprocess_on="device")
    cos = _cos_rows(e.embed_images([im], progress=False), tiny_random.embed_images([im], progress=False))
    assert cos.min() > 0.99


def test_device_decode_matches_pil_for_every_input_form(tiny_random, tmp_path):
    """JPEG decoded by torchvision (raw bytes, paths, HF dicts), PNG/PIL/arrays via PIL: same embeddings."""
    ims = [_photo(120, 160, i) for i in range(6)]
    jpegs = [_encoded(im, "JPEG") for im in ims]
    paths = []
    for i, b in enumerate(jpegs):
        (tmp_path / f"{i}.jpg").write_bytes(b)
        paths.append(str(tmp_path / f"{i}.jpg"))
    arr = np.stack([np.asarray(im) for im in ims])
    e = load_encoder(f"random:{tiny_random.name.split(':', 1)[1]}", device="cpu")
    assert e.preprocess_on == "cpu"  # auto on the CPU: PIL, the reference path
    e._force_raw_jpeg = True  # hand JPEGs to torchvision's decoder, as on CUDA
    forms = {"jpeg": jpegs, "paths": paths, "hf": [{"bytes": b, "path": None} for b in jpegs],
             "png": [_encoded(im, "PNG") for im in ims], "pil": ims, "array": arr}
    for name, items in forms.items():
        e.preprocess_on = "cpu"
        ref = e.embed_images(items, progress=False, batch_size=4)
        e.preprocess_on = "device"
        got = e.embed_images(items, progress=False, batch_size=4, num_workers=0 if name != "paths" else 2)
        assert got.shape == ref.shape and got.dtype == np.float32
        assert _cos_rows(got, ref).min() > 0.9999, name
    # the JPEG decoders agree exactly (both libjpeg-turbo)
    from gapkit import _imagepipe

    kind, raw = _imagepipe.load_raw(jpegs[0], raw_jpeg=True)
    assert kind == "jpeg"
    np.testing.assert_array_equal(_imagepipe.decode_jpegs([raw], "cpu")[0].permute(1, 2, 0).numpy(),
                                  np.asarray(Image.open(io.BytesIO(jpegs[0])).convert("RGB")))


def test_device_path_names_an_undecodable_jpeg(tiny_random):
    e = load_encoder(f"random:{tiny_random.name.split(':', 1)[1]}", device="cpu", preprocess_on="device")
    e._force_raw_jpeg = True
    good = _encoded(_photo(40, 40, 0), "JPEG")
    broken = good[:3] + b"\x00" * 40  # a JPEG signature, then garbage
    with pytest.raises(ValueError, match="image 3: could not decode"):
        e.embed_images([good, good, good, broken, good], progress=False, batch_size=4)


def test_preprocess_on_setting(tiny_random, clip_dir, tmp_path):
    e = load_encoder("clip-vit-b32", path=clip_dir, device="cpu", preprocess_on="device")
    assert e.preprocess_on == "device"
    fp = e.fingerprint()
    e.preprocess_on = "cpu"
    assert e.fingerprint() != fp  # cached embeddings never mix the two paths
    e.preprocess_on = "auto"
    assert e.preprocess_on == "cpu"  # no CUDA here
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'device'"):
        e.preprocess_on = "gpu"
    # a resize without an exact torch equivalent keeps the PIL path and refuses "device" clearly
    from transformers import CLIPImageProcessor

    lanczos = tmp_path / "lanczos"
    import shutil

    shutil.copytree(clip_dir, lanczos)
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64},
                       resample=1).save_pretrained(lanczos)
    assert load_encoder(str(lanczos), device="cpu")._resize_spec is None
    with pytest.raises(ValueError, match="no exact torch equivalent.*preprocess_on='cpu'"):
        load_encoder(str(lanczos), device="cpu", preprocess_on="device")
    # open_clip's 'longest' resize mode (ResizeKeepRatio + CenterCropOrPad) likewise
    from open_clip.transform import PreprocessCfg, image_transform_v2

    from gapkit import _imagepipe

    steps = image_transform_v2(PreprocessCfg(resize_mode="longest"), is_train=False).transforms[:-2]
    assert _imagepipe.spec_from_openclip(steps) is None
    steps = image_transform_v2(PreprocessCfg(resize_mode="squash"), is_train=False).transforms[:-2]
    assert _imagepipe.spec_from_openclip(steps).resize == (224, 224)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_preprocessing_matches_cpu(tiny_arch, tiny_random):
    """nvJPEG decode + CUDA resize over many batches (stream reuse) == the PIL path on the CPU."""
    ims = [_photo(200 + 8 * (i % 3), 260, i) for i in range(96)]
    jpegs = [_encoded(im, "JPEG") for im in ims]
    e = load_encoder(f"random:{tiny_arch}", device="cuda", precision="fp32")
    assert e.preprocess_on == "device"
    ref = tiny_random.embed_images(jpegs, progress=False, batch_size=16)
    for items in (jpegs, np.stack([np.asarray(im) for im in ims[:16]])):
        got = e.embed_images(items, progress=False, batch_size=16, num_workers=2)
        assert _cos_rows(got, ref[: len(got)]).min() > 0.999


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(tiny_arch, tiny_random, clip_dir):
    e = load_encoder(f"random:{tiny_arch}", device="auto")
    assert e.device == "cuda" and e.precision in ("bf16", "fp16")
    imgs = _images(20)
    v = e.embed_images(imgs, progress=False, batch_size=8, num_workers=2)
    assert v.dtype == np.float32
    assert _cos_rows(v, tiny_random.embed_images(imgs, progress=False)).min() > 0.98
    x = e.embed_texts(TEXTS, progress=False)
    assert _cos_rows(x, tiny_random.embed_texts(TEXTS, progress=False)).min() > 0.98
    assert e.preprocess_on == "device" and e.fingerprint() != tiny_random.fingerprint()
    e.preprocess_on = "cpu"
    assert e.fingerprint() == tiny_random.fingerprint()
    c = load_encoder("clip-vit-b32", path=clip_dir, device="cuda", precision="fp16")
    c_cpu = load_encoder("clip-vit-b32", path=clip_dir, device="cpu")
    assert _cos_rows(c.embed_images(imgs, progress=False), c_cpu.embed_images(imgs, progress=False)).min() > 0.98
    full = load_encoder(f"random:{tiny_arch}", device="cuda", precision="fp32")
    np.testing.assert_allclose(full.embed_texts(TEXTS, progress=False), tiny_random.embed_texts(TEXTS, progress=False),
                               atol=1e-3)
