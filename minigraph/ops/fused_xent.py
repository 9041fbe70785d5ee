"""Softmax cross-entropy together with the softmax of the same logits, as one two-output op.

The compiler pass ``fuse_xent_backward`` builds these when a program computes a cross-entropy
and (for its gradient) ``softmax`` of the same logits, so a kernel can produce both from one
pass over the logits. Outputs: ``(loss, softmax(logits))``. Created after autodiff, so there is
no gradient; not public.
"""
from __future__ import annotations

from .registry import defop, get_op

XENT = "softmax_cross_entropy_with_logits"
SPARSE_XENT = "sparse_softmax_cross_entropy_with_logits"
FUSED = {XENT: "fused_softmax_cross_entropy", SPARSE_XENT: "fused_sparse_softmax_cross_entropy"}
"""Cross-entropy op -> its fused op (same inputs and attrs)."""


def _fused_def(xent: str, fused: str) -> None:
    """Register ``fused``: ``xent``'s inputs, attrs and checks, plus a softmax output."""
    loss = get_op(xent)
    softmax = get_op("softmax")

    def infer(types, **attrs):
        axis = attrs.get("axis", -1)
        return [loss.infer(types, **attrs), softmax.infer(types[1:], axis=axis)]

    def ref(labels, logits, **attrs):
        return loss.ref(labels, logits, **attrs), softmax.ref(logits, axis=attrs.get("axis", -1))

    defop(fused, infer, ref, kind="nn", differentiable=False, sample=loss.sample,
          doc=f"({xent}, softmax) of the same logits in one op (see pass fuse_xent_backward)")


for _xent, _fused in FUSED.items():
    _fused_def(_xent, _fused)

__all__: list[str] = []
