"""Gap and cone metrics: one reference implementation of each (chapters 1, 3, 4).

Conventions (also stated in the book's chapter 3 and in ``shared/background.md``):

- Every function L2-normalises rows first, so all geometry is on the unit sphere.
- ``image`` row ``i`` and ``text`` row ``i`` are a matched pair; ``v̂_i`` / ``t̂_i``
  are the normalised rows, ``n`` the number of pairs, ``d`` the dimension.
- Inputs are ``(n, d)`` numpy arrays or torch tensors. Tensors (CPU or GPU) are
  moved to host memory with :func:`gapkit._validation.to_numpy` and everything is
  computed in numpy: the metrics are memory-bound O(n·d) passes (or O(n·d²) for
  the spectral ones), so a GPU buys little, and one code path keeps results
  identical across devices.
- Every input goes through :func:`~gapkit._validation.as_matrix` /
  :func:`~gapkit._validation.as_paired`, so NaN/inf rows, all-zero rows,
  mismatched ``n``, ``n < 2`` and 1-D input raise ``ValueError`` naming the rows
  or shapes and the fix.

Memory and cost. No function ever holds a normalised copy of the input, and
nothing forms an ``n × n`` matrix:

- centroid, cone and paired metrics are one fused O(n·d) pass: per block of at
  most 512 rows (1 MB of float32 at d = 512, still in cache when it is read
  again) the squared row norms, which are also the input check (a safe squared
  norm proves a row finite and non-zero; :func:`gapkit._validation.unit_scales`),
  then the scaled sums, cosines and distances, in the input's precision
  (float32 stays float32) with float64 accumulators across blocks. The rare
  rows whose squares would overflow or underflow are normalised in float64 by
  the one normaliser; invalid rows raise the full check's ``ValueError``.
  Float32 results agree with float64 references to about 1e-7 (tested to 1e-6);
  the mean pairwise cosine uses the resultant-length identity
  ``mean_{i≠j} cos(x_i, x_j) = (n R² − 1)/(n − 1)`` instead of all pairs.
  From 1,536 rows at d = 512 (``_rows._PARALLEL_ELEMS`` numbers per array) the
  paired metrics and :func:`gap_decomposition` run on two threads (the two
  modalities' sums side by side, or two halves of the blocks merged exactly),
  each on one BLAS thread; they stay serial on one CPU and wherever numpy's
  BLAS is held to one thread (``OMP_NUM_THREADS=1``, a threadpoolctl limit);
- the other metrics normalise in float64 blocks of about ``_CHUNK_ELEMS``
  numbers (16 MB) and reduce them on the fly;
- spectral metrics (effective rank, participation ratio, PC1 share) accumulate
  the ``d × d`` scatter matrix of the centred normalised rows (O(n·d²) time,
  O(d²) memory) and take its eigenvalues: the singular values of the centred
  matrix are the square roots of those eigenvalues (when ``n < d`` the
  ``n × n`` Gram matrix is used instead, which has the same non-zero spectrum);
- uniformity is genuinely pairwise: it is computed exactly over all distinct
  pairs of at most ``max_samples`` rows (a seeded random subsample above that),
  in row blocks, never holding the full pairwise matrix;
- linear separability fits a logistic regression on at most ``max_pairs`` pairs.
"""

from __future__ import annotations

from .._live import live_state

# The code lives in one private module per idea; each imports only from lower ones (and from gapkit's
# own private modules), never from this package:
#
#   _params        declarative parameter constraints
#   _rows          block sizes, row blocks, the one normaliser, BLAS threads, normalize_rows
#   _fused         the fused single-pass kernels (_unit_sum, _pair_pass) and their two-thread split
#   _spread        mean resultant length, mean pairwise cosine, uniformity
#   _centroid      gap vector, centroid gap, paired distance/cosine, alignment, RMG
#   _spectrum      effective rank, participation ratio, first-PC variance share
#   _separability  linear separability
#   _distribution  what the centroid misses: gap decomposition, two-sample distances, conformity, clustering
#   _report        Estimate, GapReport, gap_report
#
# Everything is re-exported here, private helpers included. The block sizes (_CHUNK_ELEMS,
# _FUSED_ELEMS) and the two-thread threshold (_PARALLEL_ELEMS) are read from gapkit.geometry._rows at
# call time: patch them there, not here.

from ._distribution import (GapDecomposition, JointClustering, conformity, distribution_gap, frechet_distance,  # noqa: F401
                             gap_decomposition, joint_clustering_score, mmd)
from . import _rows
from ._centroid import (_rmg_from_parts, alignment, centroid_gap, gap_vector, paired_cosine,  # noqa: F401
                        paired_distance, relative_modality_gap)
from ._fused import (_DIRECT_DISTANCE_COS, _on_two_threads, _pair_block, _pair_pass, _PairPass, _rare_in,  # noqa: F401
                     _rare_units, _two_threads_gain, _unit_sum, _unit_sums, _units64, _work)
from ._params import _FRACTION, _KERNEL_T, _MAX_ROWS, _SEED  # noqa: F401
from ._report import (_MODALITIES, _PAIR, Estimate, GapReport, _bootstrap_counts, _weighted_sums,  # noqa: F401
                      _wilson, gap_report)
from ._rows import (_CHUNK_ELEMS, _FUSED_ELEMS, _FUSED_ROWS, _fused_slices, _one_blas_thread,  # noqa: F401
                    _row_slices, _unit_rows, normalize_rows)
from ._retrieval import _keys, retrieval_accuracy, retrieval_chance  # noqa: F401
from ._separability import SEPARABILITY_MAX_PAIRS, _pair_split, _separability, linear_separability  # noqa: F401
from ._spectrum import (_centred_spectrum, _effective_rank_from, _participation_ratio_from,  # noqa: F401
                        _pc1_share_from, effective_rank, first_pc_variance_share, participation_ratio)
from ._spread import (UNIFORMITY_MAX_SAMPLES, _off_diagonal_cosine, _subsample_index,  # noqa: F401
                      _uniformity_core, mean_pairwise_cosine, mean_resultant_length, uniformity)

__all__ = [
    "normalize_rows",
    "gap_vector",
    "centroid_gap",
    "paired_distance",
    "paired_cosine",
    "relative_modality_gap",
    "linear_separability",
    "retrieval_accuracy",
    "retrieval_chance",
    "mean_resultant_length",
    "mean_pairwise_cosine",
    "effective_rank",
    "participation_ratio",
    "first_pc_variance_share",
    "alignment",
    "uniformity",
    "gap_report",
    "GapReport",
    "Estimate",
    # what the centroid misses (geometry/_distribution.py)
    "gap_decomposition", "distribution_gap", "frechet_distance", "mmd", "conformity", "joint_clustering_score",
    "GapDecomposition", "JointClustering",
]


# _BLAS_CONTROLLER is state that _rows._blas_libraries sets on first use: read it there, live
__getattr__, __dir__ = live_state(__name__, globals(), {"_BLAS_CONTROLLER": _rows})
