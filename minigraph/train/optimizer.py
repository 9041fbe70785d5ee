"""TF1's ``Optimizer`` base: gradients, slot bookkeeping and one grouped update op per step.

Every update is one assign per variable or slot, computed from pre-step values: within a run
reads see the values from before the run and all writes are committed together at its end.
Subclasses implement ``_create_slots`` and ``_apply_dense`` (and may add ``_finish``).

A sparse gradient (``IndexedSlices``) is applied as TF1 does: deduplicated (repeated rows
summed), then the optimizer's own formula on the touched rows only -- for subclasses that read
and write through ``_read``/``_write`` and set ``_sparse_rows``; others get the gradient
densified (TF1's Adam also updates every row's moments for a sparse gradient).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autodiff import gradients
from ..graph import Node, get_default_graph
from ..indexed_slices import IndexedSlices, deduplicate
from ..ops.elementwise import cast
from ..ops.indexing import gather
from ..ops.state import assign, assign_add, constant, group, scatter_update
from ..tensor import Tensor, as_node, convert_to_tensor
from ..variables import TRAINABLE_VARIABLES
from .slots import create_slot, state_variable

_FLOAT_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


class Optimizer:
    """Base class of the TF1 optimizers (``tf.compat.v1.train.Optimizer``)."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2
    _sparse_rows = False
    """Whether ``_apply_dense`` works row by row through ``_read``/``_write`` (sparse-ready)."""

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[Node, Tensor]] = {}
        self._non_slots: dict[tuple, Tensor] = {}
        self._hyper_cache: dict[tuple, Tensor] = {}
        self._rows: Tensor | None = None

    def get_name(self) -> str:
        return self._name

    # -- the public TF1 API -------------------------------------------------------------------
    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP,
                 aggregation_method=None, colocate_gradients_with_ops=False, name=None,
                 grad_loss=None) -> Node:
        """``compute_gradients`` then ``apply_gradients``: the op running one training step."""
        loss = convert_to_tensor(loss)
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        if all(g is None for g, _ in grads_and_vars):
            raise ValueError("No gradients provided for any variable, check your graph for ops "
                             "that do not support gradients, between variables "
                             f"{[v.name for _, v in grads_and_vars]} and loss {loss.name}.")
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP,
                          aggregation_method=None, colocate_gradients_with_ops=False,
                          grad_loss=None) -> list[tuple]:
        """``[(gradient or None, variable)]`` for ``var_list`` (default: trainable variables).

        ``gate_gradients``, ``aggregation_method`` and ``colocate_gradients_with_ops`` are
        accepted for TF1 compatibility; scheduling and placement are the compiler's job here.
        """
        loss = convert_to_tensor(loss)
        _check_float([loss])
        if var_list is None:
            var_list = loss.graph.get_collection(TRAINABLE_VARIABLES)
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        grads = gradients(loss, var_list, grad_ys=grad_loss)
        pairs = list(zip(grads, var_list))
        _check_float([v for g, v in pairs if g is not None])
        return pairs

    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> Node:
        """One op (a ``group``; ``sess.run`` gives None) applying every non-None gradient and
        incrementing ``global_step`` when given."""
        pairs = _checked_pairs(grads_and_vars)
        var_list = [v for g, v in pairs if g is not None]
        if not var_list:
            raise ValueError("No gradients provided for any variable: "
                             f"{[v.name for _, v in pairs]}.")
        graph = var_list[0].graph
        base = name or self._name
        with graph.as_default():
            self._create_slots(var_list)
            self._hyper_cache = {}
            updates = []
            for grad, var in pairs:
                if grad is not None:
                    with graph.name_scope(f"{base}/update_{var.node.name}"):
                        updates.extend(self._apply_grad(grad, var))
            with graph.name_scope(f"{base}/finish"):
                updates.extend(self._finish(var_list))
                if global_step is not None:
                    updates.append(assign_add(global_step, 1, name="global_step_increment"))
            return group(updates, name=base)

    def get_slot(self, var, name: str):
        """The slot variable ``name`` of ``var``, or None."""
        return self._slots.get(name, {}).get(as_node(var))

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list:
        """All variables this optimizer created in the default graph, sorted by name."""
        graph = get_default_graph()
        found = [v for (_, g), v in self._non_slots.items() if g is graph]
        found += [v for per_var in self._slots.values() for v in per_var.values()
                  if v.graph is graph]
        return sorted(found, key=lambda v: v.name)

    # -- for subclasses ------------------------------------------------------------------------
    def _create_slots(self, var_list: list) -> None:
        """Create the slot variables the update needs (none by default)."""

    def _apply_dense(self, grad: Tensor, var: Tensor) -> list:
        """The assign ops applying a dense ``grad`` to ``var`` and its slots."""
        raise NotImplementedError(f"{type(self).__name__} must implement _apply_dense")

    def _apply_sparse(self, grad: IndexedSlices, var: Tensor) -> list:
        """The updates for a sparse ``grad``: the dense formula on the deduplicated touched rows
        (``_sparse_rows``), else on the densified gradient."""
        if not self._sparse_rows:
            return self._apply_dense(convert_to_tensor(grad), var)
        self._rows, rows = deduplicate(grad)
        try:
            return self._apply_dense(rows, var)
        finally:
            self._rows = None

    def _read(self, t: Tensor) -> Tensor:
        """``t`` (a variable or slot) as the update sees it: whole, or its touched rows."""
        return t if self._rows is None else gather(t, self._rows)

    def _write(self, t: Tensor, value: Tensor):
        """Assign ``value`` to ``t``: whole, or to its touched rows."""
        return assign(t, value) if self._rows is None else scatter_update(t, self._rows, value)

    def _finish(self, var_list: list) -> list:
        """Assign ops run once per step after the per-variable updates (none by default)."""
        return []

    def _get_or_make_slot(self, var, fill: float, slot_name: str, op_name: str):
        """The slot ``slot_name`` of ``var``, created filled with ``fill`` on first use."""
        per_var = self._slots.setdefault(slot_name, {})
        if var.node not in per_var:
            per_var[var.node] = create_slot(var, fill, op_name)
        return per_var[var.node]

    def _zeros_slot(self, var, slot_name: str, op_name: str):
        return self._get_or_make_slot(var, 0.0, slot_name, op_name)

    def _get_or_make_non_slot(self, like, initial, name: str):
        """A per-graph optimizer variable (e.g. Adam's ``beta1_power``), created on first use."""
        key = (name, like.graph)
        if key not in self._non_slots:
            self._non_slots[key] = state_variable(like, initial, name)
        return self._non_slots[key]

    def _get_non_slot(self, name: str, graph):
        return self._non_slots.get((name, graph))

    def _hyper(self, name: str, dtype) -> Tensor:
        """Hyperparameter ``self._<name>`` (number, tensor or callable) as a ``dtype`` tensor,
        built once per ``apply_gradients``. Python numbers are rounded through float32 first,
        as TF1's ``convert_to_tensor`` does, so float64 models get TF1's exact numbers."""
        key = (name, dtype)
        if key not in self._hyper_cache:
            value = getattr(self, "_" + name)
            if callable(value):
                value = value()
            if not isinstance(value, Tensor):
                value = np.float32(value) if isinstance(value, float) else value
            self._hyper_cache[key] = (cast(value, dtype) if isinstance(value, Tensor)
                                      else constant(value, dtype=dtype))
        return self._hyper_cache[key]

    # -- helpers -------------------------------------------------------------------------------
    def _apply_grad(self, grad, var) -> list:
        if not isinstance(grad, (Tensor, IndexedSlices)):
            raise TypeError(f"{type(self).__name__}: gradient for {var.name!r} is a "
                            f"{type(grad).__name__}, not a tensor or IndexedSlices")
        if grad.dtype != var.dtype:
            raise TypeError(f"gradient for {var.name!r} has dtype {grad.dtype}, "
                            f"but the variable is {var.dtype}")
        if isinstance(grad, IndexedSlices):
            return self._apply_sparse(grad, var)
        return self._apply_dense(grad, var)


def _check_float(tensors) -> None:
    for t in tensors:
        if t.dtype not in _FLOAT_DTYPES:
            raise ValueError(f"Invalid type {t.dtype} for {t.name}, expected: "
                             f"{[str(d) for d in _FLOAT_DTYPES]}.")


def _checked_pairs(grads_and_vars) -> list[tuple]:
    """Validated ``(grad, var)`` pairs: vars are variables, each at most once."""
    pairs = list(grads_and_vars)
    if not pairs:
        raise ValueError("No variables provided.")
    seen = set()
    checked = []
    for grad, var in pairs:
        if not isinstance(var, Tensor) or var.node.op != "variable":
            raise TypeError(f"apply_gradients: {var!r} is not a variable")
        if var.node in seen:
            raise ValueError(f"apply_gradients: variable {var.name!r} appears twice")
        seen.add(var.node)
        if grad is not None and not isinstance(grad, IndexedSlices):
            grad = convert_to_tensor(grad)
        checked.append((grad, var))
    return checked
