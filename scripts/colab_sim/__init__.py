"""gapbook's simulation of a student's Colab runtime (``scripts/colab_sim.py``; issue 12).

- :mod:`colab_sim.versions`: Colab's package versions, the one table everything checks against;
- :mod:`colab_sim.env`: the environment with those versions (uv; torch linked from ``.venv``);
- :mod:`colab_sim.standins`: random-weight checkpoints and dataset copies under the real Hub ids;
- :mod:`colab_sim.hub`: a loopback server speaking enough of the Hub's API to serve them;
- :mod:`colab_sim.runtime`: the stand-in ``google.colab``, the tagged local clone, the kernel spec;
- :mod:`colab_sim.runner`: executes the published notebooks and names the failing cell.
"""
