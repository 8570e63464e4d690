"""GPU path for the batched sparse H_mk updates (DESIGN.md §8).

The public functions take numpy, cupy or torch arrays and return the same kind; numpy and
torch-CPU inputs run the CPU reference, cupy and torch-CUDA inputs run the CUDA kernels of
``cuda/*.cu`` (compiled once per device with ``cupy.RawModule``). Importing this package
does not import cupy or torch. See ``docs/gpu.md``.
"""
from .dispatch import accumulate_torus_elements, fe_matrix_elements, stream_torus_elements
from .loader import GPUUnavailableError, require_cupy
from .reference import ModePairs, dense_pairs, fe_matrix_elements_loop, fe_matrix_elements_numpy, mode_pairs

__all__ = ["GPUUnavailableError", "ModePairs", "accumulate_torus_elements", "dense_pairs", "fe_matrix_elements",
           "fe_matrix_elements_loop", "fe_matrix_elements_numpy", "mode_pairs", "require_cupy",
           "stream_torus_elements"]
