"""gapkit.explorable: the figures' structure, their web-page output and still fallback, and the book's builders."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gapkit import cone, geometry
from gapkit.explorable import (PLOTLY_STATIC, SITE_ENV, Explorable, ExplorableError, Frame, Layer, audit_spec,
                               line_explorer, training_explorer,
                               depth_explorer, lambda_explorer)
from gapkit.shift import LambdaShift, gap_plane, lambda_metrics


def _frames(values=(0.0, 0.5, 1.0)):
    return [Frame(v, [[Layer("a", [0.0, v], [0.0, 1.0], "#0072B2"), Layer("b", [1.0, 2.0], [v, v], "#E69F00")]],
                  {"value": v, "twice": 2 * v}) for v in values]


def _explorer(**kw):
    return Explorable(_frames(), parameter="v", titles=["panel"], xlabel="x", ylabel="y", alt="test", **kw)


def test_spec_has_one_frame_and_one_slider_step_per_position_with_the_numbers():
    spec = _explorer(formats={"twice": ".1f"}).spec()
    assert [f["name"] for f in spec["frames"]] == ["0", "0.5", "1"]
    steps = spec["layout"]["sliders"][0]["steps"]
    assert [s["label"] for s in steps] == ["0", "0.5", "1"] and [s["args"][0] for s in steps] == [["0"], ["0.5"], ["1"]]
    numbers = spec["frames"][1]["layout"]["annotations"][-1]["text"]
    assert "value: <b>0.500</b>" in numbers and "twice: <b>1.0</b>" in numbers and "v = 0.5" in numbers
    assert spec["frames"][2]["data"][0]["x"] == [0.0, 1.0]  # the second point moves with v
    assert spec["layout"]["xaxis"]["title"]["text"] == "x" and spec["layout"]["yaxis"]["title"]["text"] == "y"


def test_plotly_accepts_the_spec():
    go = pytest.importorskip("plotly.graph_objects")
    fig = _explorer().figure()
    assert isinstance(fig, go.Figure) and len(fig.frames) == 3


def test_coordinates_are_rounded_and_nan_becomes_a_gap():
    layer = Layer("a", [0.12345, np.nan], [1 / 3, 2.0], "#000000")
    assert layer.coords() == ([0.123, None], [0.333, 2.0])
    with pytest.raises(ExplorableError, match="infinite"):
        Layer("a", [np.inf], [0.0], "#000000").coords()


@pytest.mark.parametrize("change, message", [
    (lambda f: f[:1], "at least 2 frames"),
    (lambda f: f[:2] + [Frame(1.0, [[f[0].layers[0][0]]], f[0].numbers)], "layers differ"),
    (lambda f: f[:2] + [Frame(1.0, f[0].layers, {"other": 1.0})], "numbers"),
    (lambda f: f + [Frame(1.0, f[0].layers, f[0].numbers)], "the label '1'"),
])
def test_frames_of_different_structure_are_refused(change, message):
    with pytest.raises(ExplorableError, match=message):
        Explorable(change(_frames()), parameter="v", titles=["p"], xlabel="x", ylabel="y", alt="t")


def test_an_unlabelled_axis_or_missing_alt_text_is_refused():
    with pytest.raises(ExplorableError, match="axis needs a title"):
        Explorable(_frames(), parameter="v", titles=["p"], xlabel=" ", ylabel="y", alt="t")
    with pytest.raises(ExplorableError, match="alt"):
        Explorable(_frames(), parameter="v", titles=["p"], xlabel="x", ylabel="y", alt="")


def test_the_web_output_loads_plotly_from_the_site_and_embeds_no_copy():
    text = _explorer().html()
    assert PLOTLY_STATIC in text and "data-content_root" in text
    assert "cdn.plot.ly" not in text and not re.search(r"plotly\.js v\d", text)
    assert 'src="data:image/png;base64,' in text  # the still picture, shown until plotly has drawn
    numbers = json.loads(re.search(r'data-numbers="([^"]*)"', text).group(1).replace("&quot;", '"'))
    assert numbers["1"] == {"value": "1.000", "twice": "2.000"}


def test_a_name_cannot_close_the_script():
    frames = [Frame(v, [[Layer("</script><b>", [0, v], [0, 1], "#000000")]], {"v": v}) for v in (0.0, 1.0)]
    text = Explorable(frames, parameter="v", titles=["p"], xlabel="x", ylabel="y", alt="t").html()
    script = text[text.index("<script>"):]
    assert script.count("</script>") == 1


def test_expect_glued_names_real_frames_and_numbers():
    fig = _explorer().expect_glued("1", {"value": "v_last"})
    assert 'data-glued="{&quot;1&quot;: {&quot;value&quot;: &quot;v_last&quot;}}"' in fig.html()
    with pytest.raises(ExplorableError, match="no frame"):
        fig.expect_glued("2", {"value": "x"})
    with pytest.raises(ExplorableError, match="not numbers"):
        fig.expect_glued("1", {"nope": "x"})


def test_the_still_png_is_a_png_and_stays_out_of_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    data = _explorer().png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert plt.get_fignums() == before


def test_show_writes_the_web_output_in_a_book_build(monkeypatch):
    shown = []
    monkeypatch.setenv(SITE_ENV, "site")
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj._repr_mimebundle_()))
    _explorer().show()
    assert set(shown[0]) == {"text/html", "image/png", "text/plain"}


def test_audit_finds_an_untitled_axis_and_a_hidden_trace():
    spec = _explorer().spec()
    assert audit_spec(spec) == []
    spec["layout"]["xaxis"]["title"]["text"] = ""
    assert audit_spec(spec) == ["axis x has no title"]
    frames = [Frame(v, [[Layer("a", [0, 1], [0, v], "#000"), Layer("b", [0, 1], [0, v], "#111")]], {}) for v in (0, 1)]
    spec = Explorable(frames, parameter="v", titles=["p"], xlabel="x", ylabel="y", alt="t").spec()
    assert any("lies exactly on" in p for p in audit_spec(spec))


# ------------------------------------------------------------------ the book's builders
@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    d = 16
    v = rng.normal(size=(120, d)) + 3 * np.eye(d)[0]
    t = v + rng.normal(size=(120, d)) + 3 * np.eye(d)[1]
    return v[:60], t[:60], v[60:], t[60:]


def test_lambda_metrics_follows_the_closed_form_and_the_metrics(pairs):
    v_fit, t_fit, v_ev, t_ev = pairs
    lams = [-0.5, 0.0, 1.0, 1.5]
    m = lambda_metrics(v_fit, t_fit, v_ev, t_ev, lams, seed=0)
    gap = np.linalg.norm(geometry.gap_vector(v_fit, t_fit))
    np.testing.assert_allclose(m["gap before re-normalisation, train"], np.abs(1 - np.array(lams)) * gap, rtol=1e-12,
                               atol=1e-14)
    assert m.loc[0.0, "gap, test"] == pytest.approx(geometry.centroid_gap(v_ev, t_ev), abs=1e-12)
    v, t = LambdaShift(1.5).fit(v_fit, t_fit).transform(v_ev, t_ev)
    assert m.loc[1.5, "paired cosine"] == pytest.approx(geometry.paired_cosine(v, t), abs=1e-12)
    assert m.loc[1.5, "R text"] == pytest.approx(geometry.mean_resultant_length(t), abs=1e-12)
    assert list(m.index) == lams


def test_lambda_metrics_retrieval_is_retrieval_accuracy(pairs):
    from gapkit.geometry import retrieval_accuracy

    v_fit, t_fit, v_ev, t_ev = pairs
    m = lambda_metrics(v_fit, t_fit, v_ev, t_ev, [0.0, 1.0], retrieval=True)
    v, t = LambdaShift(1.0).fit(v_fit, t_fit).transform(v_ev, t_ev)
    assert m.loc[1.0, "image→text top-1"] == retrieval_accuracy(v, t)
    assert m.loc[1.0, "text→image top-1"] == retrieval_accuracy(t, v)


def test_lambda_metrics_refuses_bad_lambdas(pairs):
    with pytest.raises(ValueError, match="empty"):
        lambda_metrics(*pairs, [])
    with pytest.raises(ValueError, match="lambdas"):
        lambda_metrics(*pairs, [float("nan")])


def test_gap_plane_is_orthonormal_with_delta_first(pairs):
    v_fit, t_fit, v_ev, t_ev = pairs
    delta = geometry.gap_vector(v_fit, t_fit)
    basis = gap_plane(delta, v_ev, t_ev)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(basis[:, 0], delta / np.linalg.norm(delta), atol=1e-12)
    # the second axis is the main spread left once Δ is removed (naive: the covariance's top eigenvector)
    joint = np.vstack([geometry.normalize_rows(v_ev), geometry.normalize_rows(t_ev)])
    rest = joint - np.outer(joint @ basis[:, 0], basis[:, 0])
    top = np.linalg.eigh(np.cov(rest.T))[1][:, -1]
    assert abs(top @ basis[:, 1]) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="zero"):
        gap_plane(np.zeros(16), v_ev, t_ev)


def test_lambda_explorer_shows_the_metrics_and_the_shifted_centroids(pairs):
    v_fit, t_fit, v_ev, t_ev = pairs
    lams = [-0.5, 0.0, 1.0]
    m = lambda_metrics(v_fit, t_fit, v_ev, t_ev, lams, retrieval=False)
    m["image→text top-1"] = m["text→image top-1"] = 0.5
    fig = lambda_explorer(v_fit, t_fit, v_ev, t_ev, m, model="toy", max_points=20)
    assert fig.active == 1 and fig.frames[1].numbers["centroid gap"] == m.loc[0.0, "gap, test"]
    basis = gap_plane(geometry.gap_vector(v_fit, t_fit), v_ev, t_ev)
    v, _ = LambdaShift(1.0).fit(v_fit, t_fit).transform(v_ev, t_ev)
    centroid = geometry.normalize_rows(v).mean(axis=0) @ basis
    layer = fig.frames[2].layers[0][2]
    assert layer.name == "image centroid" and np.allclose([layer.x[0], layer.y[0]], centroid)
    assert len(fig.frames[0].layers[0][0].x) == 20
    with pytest.raises(ValueError, match="retrieval=True"):
        lambda_explorer(v_fit, t_fit, v_ev, t_ev, m.drop(columns="separability"), model="toy")


def test_depth_explorer_numbers_are_mlp_cone_at_its_seed():
    x = cone.gaussian_inputs(80, 32, seed=1)
    fig = depth_explorer(x, [1, 3], width=32, seed=2, max_points=40)
    sweep = cone.mlp_cone(x, depths=[1, 3], activations=["relu", "linear"], seeds=[2], width=32)
    row = sweep.set_index(["activation", "depth"])
    for frame, depth in zip(fig.frames, (1, 3)):
        assert frame.numbers["ReLU: R"] == pytest.approx(row.loc[("relu", depth), "R"], abs=1e-12)
        assert frame.numbers["linear: mean cosine"] == pytest.approx(row.loc[("linear", depth), "mean_cosine"], abs=1e-12)
    points = fig.frames[1].layers[0][1]
    assert np.all(np.hypot(points.x, points.y) <= 1 + 1e-3)  # unit rows projected on an orthonormal plane


def test_line_explorer_draws_each_series_per_slider_value_over_a_reference():
    import pandas as pd

    rows = [{"lam": lam, "method": m, "r": r, "rate": (r * (1 - lam / 2) if m == "a" else r) / 10}
            for lam in (0.0, 1.0) for m in ("a", "b") for r in (1.0, 2.0)]
    numbers = pd.DataFrame({"a at r=2": [0.2, 0.1]}, index=[0.0, 1.0])
    fig = line_explorer(pd.DataFrame(rows), slider="lam", x="r", y="rate", series="method", scale=100,
                        colors={"a": "#D55E00", "b": "#009E73"}, numbers=numbers, baseline=0.0, xlabel="r",
                        ylabel="rate (%)", title="t", alt="t")
    last = fig.frames[1].layers[0]
    assert [layer.name for layer in last] == ["a", "b", "every method at lam = 0"]  # a and b coincide at 0
    assert list(last[0].y) == [5.0, 10.0] and list(last[2].y) == [10.0, 20.0]
    assert fig.frames[1].numbers == {"a at r=2": 0.1}
    assert audit_spec(fig.spec()) == []
    with pytest.raises(ValueError, match="no colour"):
        line_explorer(pd.DataFrame(rows), slider="lam", x="r", y="rate", series="method", colors={"a": "#000"},
                      xlabel="r", ylabel="y", title="t", alt="t")


def test_training_explorer_takes_each_epoch_of_each_run():
    def history(gaps):
        return {"plane": [{"gap": g, "paired_cosine": g / 2, "image": [[0.5, 0.1]] * 3, "text": [[-0.5, 0.0]] * 3}
                          for g in gaps]}

    fig = training_explorer({"cold run": history([1.2, 1.0, 0.9]), "warm run": history([1.2, 0.5, 0.2])},
                            short={"cold run": "cold"})
    assert [f.name for f in fig.frames] == ["0", "1", "2"] and fig.titles == ["cold run", "warm run"]
    assert fig.frames[2].numbers == {"cold: gap": 0.9, "cold: paired cosine": 0.45, "warm run: gap": 0.2,
                                     "warm run: paired cosine": 0.1}
    with pytest.raises(ValueError, match="equal length"):
        training_explorer({"a": history([1.0, 0.5]), "b": history([1.0])})
    with pytest.raises(ValueError, match="plane"):
        training_explorer({"a": {"gap": [1.0]}})
