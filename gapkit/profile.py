"""Which models, data sizes and device a chapter runs with.

Every chapter has a papermill ``parameters`` cell with ``PROFILE = "auto"``.
The book runner injects ``"offline"`` (``make book``) or ``"ci"`` (``make test``);
a reader in Colab keeps ``"auto"``, which resolves to ``"full"`` there (real
models and data from the Hugging Face Hub, GPU if present) and to
``"offline"`` anywhere else, with a printed line saying so.

Used by every chapter's first code cell.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Profile", "resolve_profile", "in_colab", "PROFILES"]

#: The three profiles. ``scale`` multiplies sample sizes and epochs in chapters.
PROFILES: dict[str, dict[str, Any]] = {
    "full": {"online": True, "scale": 1.0, "description": "real models and data from the Hugging Face Hub"},
    "offline": {"online": False, "scale": 1.0, "description": "offline stand-ins at book size"},
    "ci": {"online": False, "scale": 0.25, "description": "offline stand-ins, shrunk for CI"},
}


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@dataclass(frozen=True)
class Profile:
    """A resolved run profile.

    Attributes
    ----------
    name : {"full", "offline", "ci"}
    online : bool
        Whether real hub models and datasets are used.
    scale : float
        Multiplier a chapter applies to sample sizes, epochs and sweep lengths.
    device : str
        ``"cuda"`` or ``"cpu"``.
    reason : str
        Why this profile was chosen (printed on the executed page).
    """

    name: str
    online: bool
    scale: float
    device: str
    reason: str
    versions: dict[str, str] = field(default_factory=dict)

    def n(self, full: int, minimum: int = 2) -> int:
        """Scale a size for this profile, never below ``minimum``."""
        return max(minimum, int(round(full * self.scale)))

    def describe(self) -> str:
        """One human sentence for the executed page."""
        kind = PROFILES[self.name]["description"]
        return f"Profile '{self.name}' ({kind}) on {self.device}: {self.reason}."

    def provenance(self, models: list[str] | str, data: list[str] | str) -> None:
        """Print which models and data produced this page's outputs.

        Every chapter calls this once its encoders and datasets are loaded; the book
        runner reads these lines back for the status page.
        """
        models = [models] if isinstance(models, str) else list(models)
        data = [data] if isinstance(data, str) else list(data)
        print(f"Models: {'; '.join(models)}")
        print(f"Data: {'; '.join(data)}")
        print(f"Device: {self.device}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _device() -> str:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a dependency
        return "cpu"


def package_versions(dists: tuple[str, ...] = ("gapkit", "torch", "open_clip_torch", "transformers", "numpy"),
                     ) -> dict[str, str]:
    """Python and the installed versions of ``dists`` ("not installed" where missing).

    Printed on executed pages and on the book's status page.
    """
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def resolve_profile(profile: str = "auto", *, verbose: bool = True) -> Profile:
    """Resolve a chapter's ``PROFILE`` parameter.

    Parameters
    ----------
    profile : {"auto", "full", "offline", "ci"}
        ``"auto"`` picks ``"full"`` in Colab and ``"offline"`` elsewhere; the
        environment variable ``GAPKIT_PROFILE`` overrides ``"auto"``. The environment variable
        ``GAPKIT_SCALE`` (a number in (0, 1]) replaces the profile's scale: the Colab simulation of
        ``make test`` runs the full profile's code path at the CI profile's sizes on a CPU.
    verbose : bool
        Print the resolved profile (the executed page then states it).

    Raises
    ------
    ValueError
        For an unknown profile name.
    """
    reason = "set by the caller"
    if profile == "auto":
        env = os.environ.get("GAPKIT_PROFILE")
        if env:
            profile, reason = env, "set by the GAPKIT_PROFILE environment variable"
        elif in_colab():
            profile, reason = "full", "running in Colab, so real models and data are used"
        else:
            profile, reason = (
                "offline",
                "not in Colab, so no model hub is assumed; set PROFILE='full' to use the real models",
            )
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)} or 'auto'.")
    spec = PROFILES[profile]
    scale = spec["scale"]
    env_scale = os.environ.get("GAPKIT_SCALE")
    if env_scale:
        try:
            scale = float(env_scale)
        except ValueError:
            scale = float("nan")
        if not 0 < scale <= 1:  # also rejects NaN
            raise ValueError(f"GAPKIT_SCALE={env_scale!r}: it must be a number in (0, 1], e.g. 0.25; "
                             "unset it to use the profile's own sizes")
        reason += f"; sizes scaled by {scale:g} (GAPKIT_SCALE)"
    prof = Profile(
        name=profile,
        online=spec["online"],
        scale=scale,
        device=_device(),
        reason=reason,
        versions=package_versions(),
    )
    if verbose:
        print(prof.describe())
    return prof
