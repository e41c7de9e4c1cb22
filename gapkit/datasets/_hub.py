"""The Hugging Face Hub: the optional ``datasets`` package and one split to iterate once."""

from __future__ import annotations


def _require_datasets():
    try:
        import datasets  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Loading data from the Hugging Face Hub needs the `datasets` package: "
            "`pip install datasets` (or `pip install 'gapkit[data]'`). Offline, pass records= "
            "(a list of dicts / DataFrame in the Hub's format) or use the offline generators."
        ) from exc
    return datasets


def _load_hub(dataset_id: str, split: str, max_samples: int | None, config: str | None = None):
    """A Hub split to iterate once: streamed (first ``max_samples`` rows) or downloaded (all rows)."""
    datasets = _require_datasets()
    if max_samples is not None:
        return datasets.load_dataset(dataset_id, config, split=split, streaming=True).take(int(max_samples))
    return datasets.load_dataset(dataset_id, config, split=split)
