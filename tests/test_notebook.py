"""gapkit.notebook.glue: myst-nb's glue in the book build, printed values where myst-nb is absent (Colab)."""

import sys
import types

import numpy as np
import pytest

from gapkit.notebook import format_glued, glue, has_myst_nb


@pytest.fixture
def no_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    assert not has_myst_nb()


def test_without_myst_nb_display_false_keeps_the_value_and_prints_nothing(no_myst_nb, capsys, monkeypatch):
    import gapkit.notebook as nbmod

    monkeypatch.setattr(nbmod, "_GLUED", {})
    glue("r_image", np.float64(0.734129), display=False)
    glue("n_pairs", np.int64(500), display=False)
    glue("flag", True, display=False)
    assert capsys.readouterr().out == ""  # no `name = value` lines: the paragraphs show the values
    assert nbmod.glued() == {"r_image": 0.734129, "n_pairs": 500, "flag": True}
    assert type(nbmod.glued()["n_pairs"]) is int  # numpy scalars kept as Python numbers


def test_fill_text_formats_as_the_book_s_roles_and_marks_values_not_computed_yet():
    from gapkit.notebook import PENDING, fill_text

    values = {"r": 0.73412, "n": 500, "name": "CLIP", "pct": 12.5}
    assert fill_text("R = {{r:.2f}}, n = {{n}}, {{name}}, {{pct:.0f}} %", values) == "R = 0.73, n = 500, CLIP, 12 %"
    assert fill_text("$x_{i}$ and {{r}}", values) == "$x_{i}$ and 0.7341"  # TeX braces are left alone
    assert fill_text("{{later:.3f}}", values) == PENDING
    assert fill_text("{{name:.2f}}", values) == "CLIP"  # a format that does not apply: the text as it is


def test_without_myst_nb_display_true_shows_the_value(no_myst_nb, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda v: shown.append(v))
    glue("table", {"a": 1}, display=True)
    assert shown == [{"a": 1}]


def test_with_myst_nb_calls_its_glue(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    glue("gap", 0.85, display=False)
    assert calls == [("gap", 0.85, False)]
    assert capsys.readouterr().out == ""  # myst-nb stores it; nothing printed


@pytest.mark.parametrize("value, text", [(1.0, "1"), (0.000123456, "0.0001235"), (12345.678, "1.235e+04"),
                                          (np.float32(0.5), "0.5"), ("λ = 1", "λ = 1"), (3, "3")])
def test_format_glued(value, text):
    assert format_glued(value) == text


def test_glue_rejects_a_bad_name():
    with pytest.raises(ValueError, match="non-empty string name"):
        glue("", 1.0)


def test_claim_passes_silently_and_fails_naming_sentence_and_numbers(capsys):
    from gapkit.notebook import ClaimError, claim

    claim("the gap grows", 0.9 > 0.5, before=0.5, after=0.9)
    assert capsys.readouterr().out == ""
    with pytest.raises(ClaimError, match=r"'the gap grows'.*before = 0\.9, after = 0\.5"):
        claim("the gap grows", 0.5 > 0.9, before=0.9, after=0.5)
    with pytest.raises(AssertionError):  # a ClaimError is an AssertionError: the cell fails like an assert
        claim("x", False)
    with pytest.raises(ValueError, match="sentence"):
        claim("", True)


def test_claim_warns_instead_where_myst_nb_is_absent(no_myst_nb, monkeypatch):
    from gapkit.notebook import ClaimError, ClaimWarning, claim

    monkeypatch.delenv("GAPKIT_STRICT_CLAIMS", raising=False)
    with pytest.warns(ClaimWarning, match="'the gap grows'.*before = 0.9"):
        claim("the gap grows", False, before=0.9)
    monkeypatch.setenv("GAPKIT_STRICT_CLAIMS", "1")
    with pytest.raises(ClaimError):
        claim("the gap grows", False)


def test_numpy_scalars_reach_myst_nb_as_python_numbers(monkeypatch):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append(value)
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    glue("c", np.float64(0.21), display=False)
    glue("n", np.int64(3), display=False)
    glue("a", np.arange(3), display=False)  # arrays are left alone
    assert [type(v) for v in calls] == [float, int, np.ndarray] and repr(calls[0]) == "0.21"
