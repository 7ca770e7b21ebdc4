"""The training loops' own errors, in a module without JAX, so that the CLI can name them in
its error handling without every verb (a figure, the claims) paying for importing the
training stack."""

from __future__ import annotations


class AllMembersFailed(RuntimeError):
    """Every member of a generation had a non-finite fitness: nothing can be learned."""
