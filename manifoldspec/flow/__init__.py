"""Ricci flow ∂g/∂t = −2Ric + T(x_t, g) (eq. 8): chart-grid and triangle-mesh discretizations.

See docs/ricci_flow.md. Pure numpy/scipy; matplotlib only inside :mod:`.plots`.
"""
from .adaptive import AdaptiveRun, adaptive_grid_flow, adaptive_mesh_flow, integrate_adaptive
from .entropy import hamilton_entropy, perelman_lambda
from .grid_curvature import (PeriodicGrid, christoffel, curvature_l2, gaussian_curvature, ricci_tensor,
                             riemann_tensor, scalar_curvature)
from .grid_flow import (GridFlowResult, explicit_step, flow_rhs, grid_flow, ricci_flow_rhs, semi_implicit_step,
                        stable_dt)
from .mesh_curvature import mesh_curvature
from .mesh_flow import ConformalMesh, MeshFlowResult, conformal_mesh, mesh_flow, mesh_linearization, mesh_stable_dt
from .mesh_spectrum import intrinsic_p1_operators, intrinsic_spectrum, sphere_p2_conformal_operators
from .stress import WarpStress, tokens_from_warp
from .track import grid_metric_callable, track_grid_spectrum, track_mesh_spectrum

__all__ = ["AdaptiveRun", "ConformalMesh", "GridFlowResult", "MeshFlowResult", "PeriodicGrid", "WarpStress",
           "adaptive_grid_flow", "adaptive_mesh_flow", "christoffel", "conformal_mesh", "curvature_l2",
           "explicit_step", "flow_rhs", "gaussian_curvature", "grid_flow", "grid_metric_callable", "hamilton_entropy",
           "integrate_adaptive", "intrinsic_p1_operators", "intrinsic_spectrum", "mesh_curvature", "mesh_flow",
           "mesh_linearization", "mesh_stable_dt", "perelman_lambda", "ricci_flow_rhs", "ricci_tensor",
           "riemann_tensor", "scalar_curvature", "semi_implicit_step", "sphere_p2_conformal_operators", "stable_dt",
           "tokens_from_warp", "track_grid_spectrum", "track_mesh_spectrum"]
