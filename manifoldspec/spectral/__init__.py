"""Discretization, assembly and eigen-solution of the Laplace–Beltrami operator (eqs. 2–3)."""
from .assemble import Operators, assemble
from .discretize import Discretization, discretize
from .geodesic import geodesic_distance
from .solve import solve, solve_operators
from .clusters import cluster_indices as clusters
from .spectrum import Spectrum
from .retrieval import retrieve, spectral_coefficients

__all__ = ["Discretization", "Operators", "Spectrum", "assemble", "clusters", "discretize", "geodesic_distance", "retrieve", "solve", "solve_operators",
           "spectral_coefficients"]
