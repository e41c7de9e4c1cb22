"""Random-weight stand-ins for the Hub repositories the chapters' full profile loads.

Written once per build under ``_build/colab-sim/hub/{models,datasets}/<org>/<name>/`` in each
repository's own file layout, and served by :mod:`colab_sim.hub`. Each model is a small model of
the real family that keeps what gapkit's code path depends on: the image size and patch size,
the context length, the padding, the tokenizer type and its files, the preprocessing config in
the real repository's format. Widths, depths and the joint dimension (:data:`JOINT_DIM`) shrink,
and so do the data sets (:data:`HAM_ROWS`, :data:`COCO_ROWS`).

Two parts, run by two interpreters (deterministic, seeded):

``tokenizers`` (the main ``.venv``: sentencepiece, tokenizers, open_clip and timm)
    a SentencePiece model for SigLIP/MedSigLIP, a byte-level BPE with ``</w>`` for CLIP, a
    WordPiece vocabulary for PubMedBERT, and BiomedCLIP's open_clip checkpoint.
``hub`` (the simulated Colab runtime: its own transformers 5.15 and datasets 4.0)
    the transformers checkpoints (CLIP, SigLIP, MedSigLIP), the PubMedBERT config, and the
    parquet copies of ``marmal88/skin_cancer`` and ``lmms-lab/COCO-Caption2017``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

# the ids the chapters load (gapkit/encoders/_registry.py and gapkit/datasets/)
CLIP_ID = "openai/clip-vit-base-patch32"
SIGLIP_ID = "google/siglip-base-patch16-384"
MEDSIGLIP_ID = "google/medsiglip-448"
BIOMEDCLIP_ID = "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
PUBMEDBERT_ID = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"
HAM_ID = "marmal88/skin_cancer"
COCO_ID = "lmms-lab/COCO-Caption2017"

MODELS = (CLIP_ID, SIGLIP_ID, MEDSIGLIP_ID, BIOMEDCLIP_ID, PUBMEDBERT_ID)
DATASETS = (HAM_ID, COCO_ID)

#: rows per split of the dataset copies (the real ones: HAM 9,577/2,492/1,285; COCO 5,000/40,670)
HAM_ROWS = {"train": 200, "validation": 28, "test": 21}
COCO_ROWS = {"val": 48, "test": 16}

#: joint embedding dimension of every stand-in (the real models: 512 or 768). Small, so that the fits
#: on a few hundred rows behave as on the real data sets' thousands (more rows than dimensions).
JOINT_DIM = 64

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

SEED = 0


def repo_dir(hub: Path, repo_id: str, kind: str = "models") -> Path:
    return hub / kind / repo_id


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


# ----------------------------------------------------------------------------------------------
# text: one corpus for every tokenizer


_SUBJECTS_PERSON = ("a man", "a woman", "two people", "a young boy", "a little girl", "a group of people",
                    "a baseball player", "a child", "an old lady", "a guy", "three men", "two women", "a kid")
_SUBJECTS_OTHER = ("a dog", "a black cat", "a red bus", "a long train", "a plate of food", "a bowl of fruit",
                   "an airplane", "a giraffe", "a clock tower", "a large pizza", "an open laptop", "two horses",
                   "a white truck", "a wooden bench", "a small boat", "a brown bear", "a stop sign")
_ACTIONS = ("sitting on a bench", "standing in a grassy field", "on a busy city street", "next to a table",
            "near the water", "in a small kitchen", "on top of a hill", "under a blue sky", "in front of a building",
            "parked by the road", "on a snowy slope", "inside a room with a window")
_HAM_DX = (("melanocytic_Nevi", 40), ("melanoma", 16), ("benign_keratosis-like_lesions", 16),
           ("basal_cell_carcinoma", 12), ("actinic_keratoses", 10), ("vascular_lesions", 10), ("dermatofibroma", 8))
_HAM_DX_TYPE = ("histo", "follow_up", "consensus", "confocal")
_HAM_SITES = ("back", "lower extremity", "trunk", "upper extremity", "abdomen", "face", "chest", "foot",
              "unknown", "neck", "scalp", "hand", "ear", "genital", "acral")
_EXTRA = (
    "a photo of the digit zero one two three four five six seven eight nine",
    "a handwritten number, an image of the number, a blurry picture of a digit written by hand",
    "a small large red green blue yellow purple orange circle square triangle cross diamond",
    "in the top left top right bottom left bottom right, dark light solid striped background",
    "Patient aged 54, male, lesion on the back. Patient diagnosed via histo. Age: 45. Sex: male.",
    "Localization: lower extremity. a photo of a person. a photo of an object. dermoscopy of a lesion.",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 .,;:!?'\"()[]{}-_/+*=%&#@<>|~^$",
)


def corpus() -> list[str]:
    """Sentences like the ones the chapters embed (captions, metadata sentences, prompts)."""
    lines = list(_EXTRA)
    for s in _SUBJECTS_PERSON + _SUBJECTS_OTHER:
        for a in _ACTIONS:
            lines.append(f"{s} {a}.")
    for dx, _ in _HAM_DX:
        for t in _HAM_DX_TYPE:
            lines.append(f"Patient diagnosed via {t}. Age: 60. Sex: female. Localization: {dx.replace('_', ' ')}.")
    lines += [f"Localization: {s}." for s in _HAM_SITES]
    return lines


# ----------------------------------------------------------------------------------------------
# part 1: tokenizers and BiomedCLIP (main .venv)


def make_spiece(path: Path, vocab_size: int = 400) -> None:
    """SigLIP's tokenizer model: SentencePiece unigram, <pad>=0, </s>=1, <unk>=2 (as in the real spiece.model)."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100000,
        shuffle_input_sentence=False, hard_vocab_limit=False, minloglevel=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def make_clip_bpe(dest: Path, vocab_size: int = 1000) -> None:
    """CLIP's byte-level BPE (``</w>`` word ends): vocab.json and merges.txt in the real format.

    The vocabulary holds every byte with and without ``</w>`` (as CLIP's does), the learnt merges,
    then ``<|startoftext|>`` and ``<|endoftext|>`` as its last two ids (the text tower pools at
    the highest id, the end token, as the real config's legacy ``eos_token_id`` asks).
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<|endoftext|>", end_of_word_suffix="</w>", continuing_subword_prefix=""))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), end_of_word_suffix="</w>")
    tok.train_from_iterator(corpus(), trainer=trainer)
    data = json.loads(tok.to_str())
    learnt = data["model"]["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for t in alphabet + [a + "</w>" for a in alphabet] + sorted(learnt, key=learnt.get):
        vocab.setdefault(t, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    _write_json(dest / "vocab.json", vocab)
    (dest / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def make_wordpiece(path: Path, vocab_size: int = 800) -> None:
    """PubMedBERT's uncased WordPiece vocabulary (vocab.txt; [PAD] [UNK] [CLS] [SEP] [MASK] first, as in the real one)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    alphabet = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()[]{}-_/+*=%&#@<>|~^$"))
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, show_progress=False, initial_alphabet=alphabet,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(corpus(), trainer=trainer)
    vocab = tok.get_vocab()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n")


def pubmedbert_config(vocab_size: int) -> dict:
    """A small BERT in the real config's format (uncased, 512 positions; the real one is 768 wide, 12 layers)."""
    return {
        "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 2,
        "num_hidden_layers": 2, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": vocab_size,
    }


def biomedclip_config() -> dict:
    """BiomedCLIP's open_clip_config.json; the timm tower is ViT-Ti/16 at 224 px instead of ViT-B/16."""
    return {
        "model_cfg": {
            "embed_dim": JOINT_DIM,
            "vision_cfg": {"timm_model_name": "vit_tiny_patch16_224", "timm_model_pretrained": False,
                           "timm_pool": "", "timm_proj": "linear", "image_size": 224},
            "text_cfg": {"hf_model_name": PUBMEDBERT_ID, "hf_tokenizer_name": PUBMEDBERT_ID, "hf_proj_type": "mlp",
                         "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 256},
        },
        "preprocess_cfg": {"mean": OPENAI_MEAN, "std": OPENAI_STD},
    }


def make_biomedclip(hub: Path) -> None:
    """open_clip_config.json + open_clip_pytorch_model.bin (random weights), the real repository's two files."""
    import tempfile

    import open_clip
    import torch

    bert = repo_dir(hub, PUBMEDBERT_ID)
    vocab_size = len((bert / "vocab.txt").read_text().split("\n")) - 1
    dest = repo_dir(hub, BIOMEDCLIP_ID)
    dest.mkdir(parents=True, exist_ok=True)
    cfg = biomedclip_config()
    _write_json(dest / "open_clip_config.json", cfg)
    with tempfile.TemporaryDirectory() as tmp:  # the model is built from a local copy of the BERT config
        _write_json(Path(tmp) / "config.json", pubmedbert_config(vocab_size))
        model_cfg = json.loads(json.dumps(cfg["model_cfg"]))
        model_cfg["text_cfg"]["hf_model_name"] = tmp
        model_cfg["text_cfg"]["hf_model_pretrained"] = False
        torch.manual_seed(SEED)
        model = open_clip.CustomTextCLIP(**model_cfg)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, dest / "open_clip_pytorch_model.bin")
    (dest / "README.md").write_text("---\nlicense: mit\nlibrary_name: open_clip\n---\n\n"
                                    "# BiomedCLIP stand-in (random weights, gapbook's Colab simulation)\n")


META = "_standins.json"


def part_tokenizers(hub: Path) -> None:
    import sentencepiece as spm

    make_clip_bpe(repo_dir(hub, CLIP_ID))
    sizes = {}
    for repo in (SIGLIP_ID, MEDSIGLIP_ID):
        make_spiece(repo_dir(hub, repo) / "spiece.model")
        sizes[repo] = spm.SentencePieceProcessor(model_file=str(repo_dir(hub, repo) / "spiece.model")).get_piece_size()
    _write_json(hub / META, {"spiece_size": sizes})
    make_wordpiece(repo_dir(hub, PUBMEDBERT_ID) / "vocab.txt")
    make_biomedclip(hub)


# ----------------------------------------------------------------------------------------------
# part 2: transformers checkpoints and datasets (the simulated runtime)


def _clip(hub: Path) -> None:
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    dest = repo_dir(hub, CLIP_ID)
    vocab = json.loads((dest / "vocab.json").read_text())
    merges = [tuple(line.split(" ")) for line in (dest / "merges.txt").read_text().split("\n")[1:] if line]
    tok = CLIPTokenizer(vocab=vocab, merges=merges)
    tok.backend_tokenizer.save(str(dest / "tokenizer.json"))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    _write_json(dest / "special_tokens_map.json", special)
    _write_json(dest / "tokenizer_config.json", {  # the real repository's (older) format
        "unk_token": "<|endoftext|>", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>", "add_prefix_space": False, "errors": "replace", "do_lower_case": True,
        "name_or_path": CLIP_ID, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer",
    })
    _write_json(dest / "preprocessor_config.json", {  # the real file: legacy int sizes, CLIPFeatureExtractor
        "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD,
        "resample": 3, "size": 224,
    })
    cfg = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77, "bos_token_id": 0,
                     "eos_token_id": 2, "pad_token_id": 1, "projection_dim": JOINT_DIM},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 224, "patch_size": 32, "projection_dim": JOINT_DIM},
        projection_dim=JOINT_DIM,
    )
    torch.manual_seed(SEED)
    CLIPModel(cfg).save_pretrained(dest)


def _siglip(hub: Path, repo: str, image_size: int, width: int) -> None:
    import torch
    from transformers import SiglipConfig, SiglipModel

    dest = repo_dir(hub, repo)
    vocab_size = json.loads((hub / META).read_text())["spiece_size"][repo]  # no sentencepiece in this runtime
    _write_json(dest / "special_tokens_map.json", {"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"})
    _write_json(dest / "tokenizer_config.json", {
        "added_tokens_decoder": {
            "1": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                  "special": True},
            "2": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                  "special": True},
        },
        "additional_special_tokens": [], "clean_up_tokenization_spaces": True, "do_lower_case": True,
        "eos_token": "</s>", "model_input_names": ["input_ids"], "model_max_length": 64, "pad_token": "</s>",
        "processor_class": "SiglipProcessor", "sp_model_kwargs": {}, "tokenizer_class": "SiglipTokenizer",
        "unk_token": "<unk>",
    })
    _write_json(dest / "preprocessor_config.json", {
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5],
        "processor_class": "SiglipProcessor", "resample": 3, "rescale_factor": 0.00392156862745098,
        "size": {"height": image_size, "width": image_size},
    })
    cfg = SiglipConfig(
        text_config={"vocab_size": vocab_size, "hidden_size": width, "intermediate_size": 2 * width,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 64,
                     "pad_token_id": 1, "eos_token_id": 1},
        vision_config={"hidden_size": width, "intermediate_size": 2 * width, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": image_size, "patch_size": 16},
    )
    torch.manual_seed(SEED)
    SiglipModel(cfg).save_pretrained(dest)


def _pubmedbert(hub: Path) -> None:
    dest = repo_dir(hub, PUBMEDBERT_ID)
    vocab_size = len((dest / "vocab.txt").read_text().split("\n")) - 1
    _write_json(dest / "config.json", pubmedbert_config(vocab_size))


def _jpeg(img, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _lesion_image(rng, w: int = 300, h: int = 225):
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    skin = np.array([225, 180, 150]) * rng.uniform(0.8, 1.05)
    img = np.empty((h, w, 3))
    img[:] = skin
    cy, cx = h / 2 + rng.uniform(-20, 20), w / 2 + rng.uniform(-30, 30)
    ry, rx = rng.uniform(30, 80), rng.uniform(40, 100)
    d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
    lesion = np.array([120, 70, 50]) * rng.uniform(0.4, 1.1)
    alpha = np.clip(1.5 - d, 0, 1)[..., None]
    img = img * (1 - alpha) + lesion * alpha + rng.normal(0, 6, size=img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _scene_image(rng, w: int, h: int, grey: bool = False):
    import numpy as np
    from PIL import Image, ImageDraw

    top, bottom = rng.integers(0, 256, size=3), rng.integers(0, 256, size=3)
    t = np.linspace(0, 1, h)[:, None, None]
    arr = (top * (1 - t) + bottom * t) * np.ones((1, w, 1))
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return img.convert("L") if grey else img


def _readme(features_yaml: str, splits: dict[str, int], config_files: dict[str, str]) -> str:
    lines = ["---", "dataset_info:", "  features:", features_yaml.rstrip(), "  splits:"]
    for name, n in splits.items():
        lines += [f"  - name: {name}", f"    num_examples: {n}"]
    lines += ["configs:", "- config_name: default", "  data_files:"]
    for split, pattern in config_files.items():
        lines += [f"  - split: {split}", f"    path: {pattern}"]
    lines += ["---", "", "Stand-in for gapbook's Colab simulation: generated images, the real columns and splits.", ""]
    return "\n".join(lines)


def _ham(hub: Path) -> None:
    import numpy as np
    from datasets import Dataset, Features, Image, Value

    dest = repo_dir(hub, HAM_ID, "datasets")
    rng = np.random.default_rng(SEED + 10)
    features = Features({"image": Image(), "image_id": Value("string"), "lesion_id": Value("string"),
                         "dx": Value("string"), "dx_type": Value("string"), "age": Value("float64"),
                         "sex": Value("string"), "localization": Value("string")})
    counter = 0
    for split, n in HAM_ROWS.items():
        weights = np.array([c for _, c in _HAM_DX], dtype=float)
        dx = [d for d, c in _HAM_DX for _ in range(max(2, round(c * n / weights.sum())))]
        dx = (dx * 2)[:n]
        rng.shuffle(dx)
        rows = {k: [] for k in features}
        for i in range(n):
            counter += 1
            rows["image"].append({"bytes": _jpeg(_lesion_image(rng)), "path": None})
            rows["image_id"].append(f"ISIC_{24300 + counter:07d}")
            rows["lesion_id"].append(f"HAM_{counter:07d}")
            rows["dx"].append(dx[i])
            rows["dx_type"].append(_HAM_DX_TYPE[int(rng.integers(len(_HAM_DX_TYPE)))])
            rows["age"].append(None if i % 37 == 5 else float(5 * int(rng.integers(1, 18))))  # missing ages occur
            rows["sex"].append(("male", "female", "unknown")[int(rng.choice(3, p=[0.52, 0.46, 0.02]))])
            rows["localization"].append(_HAM_SITES[int(rng.integers(len(_HAM_SITES)))])
        path = dest / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(rows, features=features).to_parquet(str(path))
    feats = "\n".join(f"  - name: {k}\n    dtype: {v}" for k, v in [
        ("image", "image"), ("image_id", "string"), ("lesion_id", "string"), ("dx", "string"),
        ("dx_type", "string"), ("age", "float64"), ("sex", "string"), ("localization", "string")])
    (dest / "README.md").write_text(_readme(feats, HAM_ROWS, {s: f"data/{s}-*" for s in HAM_ROWS}))


def _coco(hub: Path) -> None:
    import numpy as np
    from datasets import Dataset, Features, Image, Sequence, Value

    dest = repo_dir(hub, COCO_ID, "datasets")
    rng = np.random.default_rng(SEED + 20)
    features = Features({"question_id": Value("string"), "image": Image(), "question": Value("string"),
                         "answer": Sequence(Value("string")), "id": Value("int64"), "license": Value("int8"),
                         "file_name": Value("string"), "coco_url": Value("string"), "height": Value("int32"),
                         "width": Value("int32"), "date_captured": Value("string")})
    sizes = [(320, 240), (240, 320), (320, 213), (288, 288)]
    counter = 0
    for split, n in COCO_ROWS.items():
        rows = {k: [] for k in features}
        for i in range(n):
            counter += 1
            w, h = sizes[i % len(sizes)]
            person = rng.random() < 0.5
            subjects = _SUBJECTS_PERSON if person else _SUBJECTS_OTHER
            caps = []
            for j in range(5):
                pool = subjects if (j < 4 or not person) else _SUBJECTS_OTHER
                s = pool[int(rng.integers(len(pool)))]
                a = _ACTIONS[int(rng.integers(len(_ACTIONS)))]
                caps.append(f"{s[0].upper()}{s[1:]} {a}." if j % 2 else f"{s} {a}")
            image_id = 139 + 7919 * counter
            name = f"{image_id:012d}.jpg"
            rows["question_id"].append(name)
            rows["image"].append({"bytes": _jpeg(_scene_image(rng, w, h, grey=(i == 7))), "path": None})
            rows["question"].append("Please carefully observe the image and come up with a caption for the image.")
            rows["answer"].append(caps)
            rows["id"].append(image_id)
            rows["license"].append(int(rng.integers(1, 7)))
            rows["file_name"].append(name)
            rows["coco_url"].append(f"http://images.cocodataset.org/{split}2017/{name}")
            rows["height"].append(h)
            rows["width"].append(w)
            rows["date_captured"].append(f"2013-11-{10 + i % 18:02d} 1{i % 10}:0{i % 6}:2{i % 10}")
        path = dest / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(rows, features=features).to_parquet(str(path))
    feats = "\n".join(
        f"  - name: {k}\n    {'sequence' if k == 'answer' else 'dtype'}: {v}" for k, v in [
            ("question_id", "string"), ("image", "image"), ("question", "string"), ("answer", "string"),
            ("id", "int64"), ("license", "int8"), ("file_name", "string"), ("coco_url", "string"),
            ("height", "int32"), ("width", "int32"), ("date_captured", "string")])
    (dest / "README.md").write_text(_readme(feats, COCO_ROWS, {s: f"data/{s}-*" for s in COCO_ROWS}))


def part_hub(hub: Path) -> None:
    _clip(hub)
    _siglip(hub, SIGLIP_ID, 384, 64)
    _siglip(hub, MEDSIGLIP_ID, 448, 64)
    _pubmedbert(hub)
    _ham(hub)
    _coco(hub)
    for repo in (CLIP_ID, SIGLIP_ID, MEDSIGLIP_ID, PUBMEDBERT_ID):
        readme = repo_dir(hub, repo) / "README.md"
        if not readme.exists():
            readme.write_text(f"---\nlicense: apache-2.0\n---\n\n# {repo} stand-in (random weights)\n")


def fingerprint() -> str:
    """Changes when this generator changes: the stand-ins are rebuilt then."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


if __name__ == "__main__":
    part, hub = sys.argv[1], Path(sys.argv[2])
    {"tokenizers": part_tokenizers, "hub": part_hub}[part](hub)
