"""PyTorch front-end: differentiable spectral ops and the Spectral Manifold Transformer layer.

Needs torch (``pip install manifoldspec[nn]``; from a checkout ``pip install torch==2.13.0 -e ".[nn]"``); ``import manifoldspec`` itself never
imports torch. Public names:

* ops — :func:`torus_token_elements` (closed-form H_mk, autograd Function),
  :func:`first_order_filter` (f(Λ0) + F∘H) and :func:`hermitian_function` (exact,
  eigh with a degenerate-safe backward), :func:`ritz_filter`, :func:`ritz_kernel` / :func:`first_order_kernel` (point-evaluation kernels), :func:`sparse_eigsh`
  (bottom-k pairs of a sparse pencil, adjoint backward), :func:`smt_chunked` /
  :func:`smt_recurrent`, :func:`linear_attention_chunked` / :func:`linear_attention_recurrent`.
  :func:`delta_rule_chunked` / :func:`delta_rule_recurrent`, :func:`gated_linear_chunked` /
  :func:`gated_linear_recurrent`; on the sphere base
  :func:`smt_sphere_chunked` / :func:`smt_sphere_recurrent` with :func:`sphere_basis`.
* layers — :class:`SpectralManifoldAttention` (``base="torus"`` or ``"sphere"``), :class:`LinearAttention`,
  :class:`SoftmaxAttention`, :class:`DeltaNetAttention`, :class:`GatedLinearAttention`.
* models — :class:`SMTBlock`, :class:`SMTLanguageModel`.
* inspection — :func:`warped_spectrum` (the spectrum a state encodes) and :func:`prompt_warps` (the
  prompt's metric, for the numerical core), from :mod:`manifoldspec.nn.inspect`.
* data/training — :func:`mqar_batch`, :func:`train_recall` (:func:`save_recall_model` /
  :func:`load_recall_model` for its models), :func:`sweep_recall` (learning rate × seed)
  and :func:`best_learning_rates` (the rate chosen on a validation set), :func:`held_out_accuracy` (that
  rate's accuracy on seeds the choice did not see).
"""
try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("manifoldspec.nn needs PyTorch: pip install manifoldspec[nn]") from exc

from .basis import TorusModeBasis, torus_basis
from .ops.torus import mode_features, torus_token_elements
from .ops.spectral import (first_order_filter, first_order_kernel, heat_divided_differences, hermitian_function,
                           ritz_filter, ritz_kernel)
from .ops.smt import SMTState, smt_chunked, smt_recurrent
from .ops.linear import linear_attention_chunked, linear_attention_recurrent
from .ops.delta import delta_rule_chunked, delta_rule_recurrent
from .ops.gla import gated_linear_chunked, gated_linear_recurrent
from .ops.eigsh import sparse_eigsh
from .sphere_basis import SphereModeBasis, sphere_basis, sphere_features
from .ops.sphere import SphereState, smt_sphere_chunked, smt_sphere_recurrent
from .layers import LinearAttention, SoftmaxAttention, SpectralManifoldAttention
from .deltanet import DeltaNetAttention
from .gla import GatedLinearAttention
from .models import SMTBlock, SMTLanguageModel
from .mqar import MQARConfig, mqar_batch
from .train import TrainConfig, evaluate_recall, train_recall
from .sweep import best_learning_rates, held_out_accuracy, sweep_recall
from .inspect import prompt_warps, warped_spectrum
from .checkpoint import load_recall_model, save_recall_model

__all__ = ["DeltaNetAttention", "GatedLinearAttention", "gated_linear_chunked", "gated_linear_recurrent", "SphereModeBasis", "SphereState", "delta_rule_chunked", "delta_rule_recurrent",
           "smt_sphere_chunked", "smt_sphere_recurrent", "sphere_basis", "sphere_features", "LinearAttention", "MQARConfig", "SMTBlock", "SMTLanguageModel", "SMTState", "SoftmaxAttention",
           "SpectralManifoldAttention", "TorusModeBasis", "TrainConfig", "best_learning_rates", "evaluate_recall", "held_out_accuracy", "first_order_filter", "first_order_kernel",
           "heat_divided_differences", "hermitian_function", "linear_attention_chunked",
           "linear_attention_recurrent", "mode_features", "mqar_batch", "ritz_filter", "ritz_kernel", "smt_chunked",
           "smt_recurrent", "sparse_eigsh", "sweep_recall", "torus_basis", "torus_token_elements", "train_recall", "prompt_warps", "warped_spectrum", "load_recall_model", "save_recall_model"]

