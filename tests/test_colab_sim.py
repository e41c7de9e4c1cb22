"""The Colab simulation's fast pieces (scripts/colab_sim; the whole simulation runs in make test).

- the version table check fails on a wrong, missing or unwanted package;
- the stand-in google.colab, imported at kernel start, makes gapkit.profile.in_colab() true;
- the Hub stand-in answers like the Hub (commit and etag headers, byte ranges, error codes);
- a stand-in checkpoint loads through gapkit.load_encoder under its real id, with the real
  tokenizer behaviour (CLIP: longest padding + mask; SigLIP: max_length 64, ids only;
  BiomedCLIP: 256 tokens);
- the dataset stand-ins load through gapkit.datasets with their real columns and splits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from colab_sim import env as simenv  # noqa: E402
from colab_sim import hub, runtime, standins, versions  # noqa: E402


def _expected() -> dict[str, str]:
    have = {name: v.replace("*", "10") for name, v in versions.COLAB.items()}
    have.update(versions.KEPT)
    return have


def test_version_table_check_passes_on_colab_versions():
    assert versions.check_versions(_expected()) == []


def test_version_table_check_fails_on_a_wrong_version():
    have = _expected()
    have["numpy"] = "2.4.6"
    problems = versions.check_versions(have)
    assert problems == ["numpy: 2.4.6 installed, Colab has 2.1.3"]
    have = _expected()
    have["widgetsnbextension"] = "4.0.16"  # the 3.6.x wildcard
    assert versions.check_versions(have) == ["widgetsnbextension: 4.0.16 installed, Colab has 3.6.*"]


def test_version_table_check_fails_on_a_missing_or_unwanted_package():
    have = _expected()
    del have["ipywidgets"]
    have["myst-nb"] = "1.4.0"
    have["open_clip_torch"] = "3.3.0"
    problems = versions.check_versions(have)
    assert "ipywidgets: not installed, Colab has 7.7.1" in problems
    assert "myst-nb: 1.4.0 installed, Colab has none" in problems
    assert "open_clip_torch: 3.3.0 installed, Colab has none" in problems
    # after the install cell, open_clip_torch is gapkit's own dependency: allowed
    assert versions.check_versions(have, absent=versions.ABSENT_AFTER_INSTALL) == [
        "ipywidgets: not installed, Colab has 7.7.1", "myst-nb: 1.4.0 installed, Colab has none"]


def test_version_names_are_canonicalised():
    have = {k.replace("-", "_").upper(): v for k, v in _expected().items()}
    assert versions.check_versions(have) == []


def test_torch_is_linked_not_installed():
    heavy, light = simenv.torch_closure()
    assert {"torch", "torchvision", "triton"} <= set(heavy)
    assert any(n.startswith("nvidia-") for n in heavy)
    assert not any(spec.split(">")[0].split("=")[0].split("!")[0] in ("torch", "numpy") for spec in light)


# ----------------------------------------------------------------------------------------------


def test_google_colab_standin_makes_in_colab_true_in_a_kernel(tmp_path):
    """A kernel started with the stand-in package and the startup file sees itself in Colab."""
    from jupyter_client.manager import start_new_kernel

    site = tmp_path / "site"
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text(runtime.GOOGLE_COLAB_INIT)
    ipython = tmp_path / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(runtime.STARTUP)
    env = {k: v for k, v in os.environ.items() if k not in ("GAPKIT_PROFILE", "COLAB_RELEASE_TAG")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), IPYTHONDIR=str(ipython))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        code = ("import sys, gapkit.profile as p\n"
                "print('colab' if 'google.colab' in sys.modules else 'no', p.in_colab(),"
                " p.resolve_profile('auto', verbose=False).name)\n"
                "import google.protobuf  # google stays a namespace package\n")
        out = []
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m))
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
        assert text.split() == ["colab", "True", "full"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    """The model stand-ins, written by this interpreter (the datasets need the simulated runtime)."""
    root = tmp_path_factory.mktemp("hub")
    standins.part_tokenizers(root)
    standins._clip(root)
    standins._siglip(root, standins.SIGLIP_ID, 384, 64)
    standins._pubmedbert(root)
    return root


def test_hub_standin_speaks_the_hub_protocol(small_hub):
    with hub.HubServer(small_hub) as server:
        base = f"{server.endpoint}/{standins.CLIP_ID}/resolve/main"
        req = urllib.request.Request(f"{base}/config.json", method="HEAD")
        with urllib.request.urlopen(req) as r:
            assert len(r.headers["X-Repo-Commit"]) == 40 and r.headers["ETag"].startswith('"')
            size = int(r.headers["Content-Length"])
        req = urllib.request.Request(f"{base}/config.json", headers={"Range": "bytes=-10"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206 and r.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
            assert len(r.read()) == 10
        for url, code in ((f"{base}/nope.json", "EntryNotFound"),
                          (f"{server.endpoint}/openai/nope/resolve/main/config.json", "RepoNotFound"),
                          (f"{server.endpoint}/{standins.CLIP_ID}/resolve/v9/config.json", "RevisionNotFound")):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(url)
            assert err.value.code == 404 and err.value.headers["X-Error-Code"] == code
        with urllib.request.urlopen(f"{server.endpoint}/api/models/{standins.CLIP_ID}") as r:
            info = json.load(r)
        assert info["id"] == standins.CLIP_ID and {"rfilename": "model.safetensors"} in info["siblings"]
        assert server.unknown() == []


_LOAD = r"""
import json, gapkit
out = {}
texts = ["a man sitting on a bench", "Patient diagnosed via histo. Age: 45. Sex: male. Localization: back. " * 20]
for name in ("clip-vit-b32", "siglip-b16-384", "biomedclip"):
    enc = gapkit.load_encoder(name, device="cpu")
    tok = enc.tokenize(texts)
    shapes = {k: list(v.shape) for k, v in tok.items()} if isinstance(tok, dict) else {"ids": list(tok.shape)}
    emb = enc.embed_texts(texts, progress=False)
    out[name] = {"model_id": enc.model_id, "tokenizer": type(enc.tokenizer).__name__, "shapes": shapes,
                 "image_size": list(enc.image_size), "dim": enc.dim, "emb": list(emb.shape)}
print("RESULT" + json.dumps(out))
"""


def _standin_env(server: hub.HubServer, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in runtime.DROP}
    env.update(HF_ENDPOINT=server.endpoint, HF_HOME=str(tmp / "hf"), HF_TOKEN="hf_test", HF_HUB_DISABLE_XET="1",
               GAPKIT_CACHE=str(tmp / "gapkit"), PYTHONPATH=str(ROOT))
    return env


def test_standin_checkpoints_load_under_their_real_ids(small_hub, tmp_path):
    with hub.HubServer(small_hub) as server:
        res = subprocess.run([sys.executable, "-c", _LOAD], env=_standin_env(server, tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        assert server.unknown() == []
    out = json.loads(res.stdout.split("RESULT", 1)[1])
    clip, siglip, biomed = out["clip-vit-b32"], out["siglip-b16-384"], out["biomedclip"]
    assert clip["model_id"] == "openai/clip-vit-base-patch32" and clip["tokenizer"] == "CLIPTokenizer"
    assert set(clip["shapes"]) == {"input_ids", "attention_mask"} and clip["shapes"]["input_ids"] == [2, 77]
    assert clip["image_size"] == [224, 224] and clip["dim"] == standins.JOINT_DIM
    assert siglip["tokenizer"] == "SiglipTokenizer" and siglip["shapes"] == {"input_ids": [2, 64]}  # max_length
    assert siglip["image_size"] == [384, 384]
    assert biomed["tokenizer"] == "HFTokenizer" and biomed["shapes"] == {"ids": [2, 256]}
    assert biomed["image_size"] == [224, 224] and biomed["dim"] == biomed["emb"][1] == standins.JOINT_DIM


_DATA = r"""
import json
import datasets
from gapkit.datasets import load_captions, load_ham10000
raw = {d: {"splits": datasets.get_dataset_split_names(d),
           "features": {k: type(v).__name__ for k, v in
                        datasets.load_dataset(d, split=split, streaming=True).features.items()}}
       for d, split in (("marmal88/skin_cancer", "train"), ("lmms-lab/COCO-Caption2017", "val"))}
ham = load_ham10000(split="validation", max_samples=10_000)
coco = load_captions("coco", max_samples=5000, label="person")
full = load_captions("coco", split="test", max_samples=None)
print("RESULT" + json.dumps({
    "ham": [len(ham), list(ham.images.shape[1:]), ham.texts[0], sorted(ham.class_counts()), list(ham.attributes.columns)],
    "coco": [len(coco), list(coco.images.shape[1:]), coco.texts[0], sorted(set(coco.labels.tolist()))],
    "test": len(full), "raw": raw}))
"""


def test_dataset_standins_load_through_gapkit_datasets(tmp_path):
    """marmal88/skin_cancer and lmms-lab/COCO-Caption2017, streamed from the Hub stand-in by datasets 4.0."""
    if not simenv.ENV.exists():
        simenv.build()
    hubdir = tmp_path / "hub"
    subprocess.run([str(simenv.env_python()), "-c",
                    "import sys; from colab_sim import standins as s; from pathlib import Path;"
                    "s._ham(Path(sys.argv[1])); s._coco(Path(sys.argv[1]))", str(hubdir)],
                   cwd=ROOT / "scripts", check=True, capture_output=True)
    with hub.HubServer(hubdir) as server:
        res = subprocess.run([str(simenv.env_python()), "-c", _DATA], env=_standin_env(server, tmp_path),
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        assert server.unknown() == []
    out = json.loads(res.stdout.split("RESULT", 1)[1])
    n, shape, text, classes, columns = out["ham"]
    assert n == standins.HAM_ROWS["validation"] and shape == [224, 224, 3]
    assert text.startswith("Patient diagnosed via ") and " Localization: " in text
    assert classes == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert columns == ["dx", "dx_type", "age", "sex", "localization", "dx_code"]
    n, shape, text, labels = out["coco"]
    assert n == standins.COCO_ROWS["val"] and shape == [224, 224, 3] and labels == [0, 1] and text
    assert out["test"] == standins.COCO_ROWS["test"]
    ham, coco = out["raw"]["marmal88/skin_cancer"], out["raw"]["lmms-lab/COCO-Caption2017"]
    assert ham["splits"] == ["train", "validation", "test"] and coco["splits"] == ["val", "test"]
    assert list(ham["features"]) == ["image", "image_id", "lesion_id", "dx", "dx_type", "age", "sex", "localization"]
    assert ham["features"]["image"] == "Image"
    assert list(coco["features"]) == ["question_id", "image", "question", "answer", "id", "license", "file_name",
                                      "coco_url", "height", "width", "date_captured"]
    assert coco["features"]["answer"] in ("Sequence", "List")


def test_student_copies_stop_at_their_first_stub_only():
    """A student copy counts as passing in the simulation when Run all stops at an exercise stub; any
    other NotImplementedError (a real bug) still fails it."""
    from colab_sim import runner

    assert runner.is_student(Path("_build/site/_extra/notebooks/student/01_cone_effect.ipynb"))
    assert not runner.is_student(Path("_build/site/_extra/notebooks/01_cone_effect.ipynb"))
    assert runner._is_stub("NotImplementedError", "Exercise ex-cone-width: your code goes here")
    assert not runner._is_stub("NotImplementedError", "the backend has no such operation")
    assert not runner._is_stub("ValueError", "Exercise ex-cone-width: your code goes here")


# ----------------------------------------------------------------------------------------------
# what a Colab reader must not meet, checked on every executed notebook (issue 28)


def test_the_simulation_names_each_reading_problem_of_an_executed_notebook():
    import nbformat
    from colab_sim import runner

    import colab_notebook as cn
    from gapkit.notebook import PENDING

    good = cn.glued_text_cell("R is {{r:.2f}}.")
    good.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "R is 0.50."})]
    heads = [nbformat.v4.new_markdown_cell(f"**Exercise 3.{i}: E{i}**") for i in (1, 2, 3, 4)]
    nb = nbformat.v4.new_notebook(cells=[good, *heads])
    assert runner.reading_problems(nb, "03_measuring_the_gap", student=False, ran_to_end=True) == []

    stale = cn.glued_text_cell("R is {{r:.2f}}.")
    stale.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": f"R is {PENDING}."})]
    hidden = nbformat.v4.new_code_cell('claim("x", True)', metadata={"tags": ["remove-cell"]})
    answer = nbformat.v4.new_markdown_cell("<details>\n<summary><b>Short answer</b></summary>\n\nYes.\n\n</details>")
    old_number = nbformat.v4.new_markdown_cell("**Exercise 11: E5**")
    nb = nbformat.v4.new_notebook(cells=[stale, hidden, answer, *heads, old_number])
    kinds = [p.split(":")[0] for p in runner.reading_problems(nb, "03_measuring_the_gap", student=True,
                                                               ran_to_end=True)]
    assert kinds == ["glue name left in prose", "hidden cell unfolded", "answer in a student copy",
                     "exercise number differs from the book"]


def test_a_student_copy_is_checked_against_its_chapters_run(tmp_path):
    """Without running it, a student copy passes when its cells up to the first stub are the chapter's
    and the chapter ran; a changed cell, a missing stub or a failed chapter is named."""
    import nbformat
    from colab_sim import runner

    def nb(*sources):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Ch")]
                                        + [nbformat.v4.new_code_cell(s) for s in sources])

    stub = 'raise NotImplementedError("Exercise ex-a: your code goes here")'
    (tmp_path / "student").mkdir()
    nbformat.write(nb("x = 1", "y = x + 1", "answer = 3", "check()"), tmp_path / "09_toy.ipynb")
    copy = tmp_path / "student" / "09_toy.ipynb"
    ok = {"result": "ok"}

    nbformat.write(nb("x = 1", "y = x + 1", stub, "check()"), copy)
    rec = runner.check_student_statically(copy, ok)
    assert rec["result"] == "ok" and rec["stopped_at_stub"].startswith("code cell 3")

    assert "its chapter failed: cell 2: ValueError" in runner.check_student_statically(
        copy, {"result": "error", "error": "cell 2: ValueError"})["error"]
    assert "did not run in this simulation" in runner.check_student_statically(copy, None)["error"]

    nbformat.write(nb("x = 1", "y = x + 2", stub), copy)
    assert "code cell 2 before the first stub is not the chapter's" in runner.check_student_statically(copy, ok)["error"]
    nbformat.write(nb("x = 1", "y = x + 1"), copy)
    assert "no exercise stub" in runner.check_student_statically(copy, ok)["error"]
