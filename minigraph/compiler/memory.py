"""Memory plan: where each value of a bound program lives, buffer reuse and in-place updates.

Guarantees (each checked by tests over random graphs):
- a planned buffer is reused only after every value that may alias it (a view returned by a
  later kernel included) has had its last use; fetched and written values live to the end;
- nothing is ever written into a fed array, a constant, or a fetched value;
- an optimizer-style update (a kernel whose outputs only feed plain ``assign``s of variables it
  reads elementwise) writes straight into the variables' storage, in a commit phase after every
  other step, ordered so that no kernel reads a variable another one already overwrote;
- fetched values that may alias storage, inputs or planned buffers are copied before the commit
  phase, so a fetch always sees pre-run variable values and is never overwritten later;
- a row update (an op with ``extra["apply_rows"]``, e.g. ``scatter_add``, whose value nothing
  reads) writes only its rows of the variable, after every other write; its inputs live to the
  end and are copied first if they may alias variable storage.
The plan needs backend facts only as ``facts(node) -> (writes_outputs, elementwise)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..ops.registry import get_op
from .shapes import concrete

END = float("inf")


@dataclass(frozen=True)
class Placement:
    """Where a value lives: ``external`` (fed, variable storage, constant), ``buffer`` (planned,
    reused across calls), ``fresh`` (allocated per call: fetched results), ``dynamic``
    (allocated per call once its size is known), ``returned`` (a kernel's own result),
    ``storage`` (written in place into variable ``var``)."""

    kind: str
    buffer: int | None = None
    var: object = None


@dataclass
class MemoryPlan:
    """The bound step order and every value's placement (see the module docstring)."""

    order: list
    commit_kernels: list
    placement: dict
    buffers: list = field(default_factory=list)
    snapshots: set = field(default_factory=set)
    absorbed: set = field(default_factory=set)
    row_writes: list = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per planned buffer and per in-place update, for ``explain``."""
        lines = [f"buffer {k}: {shape} {dtype}" for k, (shape, dtype) in enumerate(self.buffers)]
        users: dict = {}
        for value, where in self.placement.items():
            if where.kind == "buffer":
                users.setdefault(where.buffer, []).append(value.node.op)
        lines = [f"{line} <- {', '.join(users.get(k, []))}" for k, line in enumerate(lines)]
        lines += [f"in place: {node.op} writes variable '{where.var.name}'"
                  for node in self.commit_kernels for value in node.outputs
                  for where in [self.placement[value]]]
        lines += [f"rows in place: {node.op} updates rows of variable '{node.attrs['var'].name}'"
                  for node in self.row_writes]
        return lines



def plan_memory(program, types: dict, facts: Callable) -> MemoryPlan:
    """Plan ``program`` (IR) for the concrete ``types`` of its values (``shapes.propagate``)."""
    fetched = {v for v in program.outputs if v is not None}
    roots = _roots(program, facts)
    commit, absorbed = _commit_kernels(program, types, facts, fetched, roots)
    rows = _row_writes(program, fetched)
    order = [n for n in program.nodes if n not in commit and n not in absorbed and n not in rows]
    written = {w.outputs[0] for w in program.writes.values() if w not in absorbed | set(rows)}
    written |= {v for w in rows for v in w.inputs}
    last = _last_uses(order + commit, fetched | written)
    plan = MemoryPlan(order, commit, {}, absorbed=absorbed, row_writes=rows)
    _place(plan, program, types, facts, roots, last, fetched)
    plan.snapshots = {v for v in fetched if plan.placement[v].kind not in ("fresh", "dynamic")} \
        | {v for v in written if any(kind == "var" for kind, _ in roots[v])}
    return plan


def _row_writes(program, fetched) -> list:
    """Writes that update rows in place: row ops whose value no node reads and no one fetches."""
    read = {v for node in program.nodes for v in node.inputs} | fetched
    return [w for w in program.writes.values()
            if get_op(w.op).extra.get("apply_rows") and w.outputs[0] not in read]


def _roots(program, facts) -> dict:
    """For each value, the storage it may alias: ``("fed", i)``, ``("var", variable)``,
    ``("const", node)`` or ``("buf", value)`` (the value a writing kernel filled). A kernel that
    returns its own result may return a view of any input, so it inherits all their roots."""
    roots = {node.outputs[0]: {("fed", i)} for i, node in enumerate(program.inputs)}
    for node in program.nodes:
        if node.op == "variable":
            own = {("var", node.origin)}
        elif node.op == "constant":
            own = {("const", node)}
        elif facts(node)[0]:
            for value in node.outputs:
                roots[value] = {("buf", value)}
            continue
        else:
            own = set().union(*(roots[v] for v in node.inputs))
            if "var" in node.attrs:
                own.add(("var", node.attrs["var"]))
        for value in node.outputs:
            roots[value] = own
    return roots


def _commit_kernels(program, types, facts, fetched, roots) -> tuple[list, set]:
    """Kernels that update variables in place, ordered readers-first, and their assigns."""
    consumers: dict = {}
    for node in program.nodes:
        for v in node.inputs:
            consumers.setdefault(v, []).append(node)
    candidates = {}
    for node in program.nodes:
        targets = _in_place_targets(node, types, facts, consumers, fetched, roots)
        if targets:
            candidates[node] = targets
    return _order_commits(candidates, roots)


def _in_place_targets(node, types, facts, consumers, fetched, roots):
    """``{output: (variable, assign)}`` if every output of ``node`` (an elementwise writing
    kernel) only feeds an unused, unfetched ``assign`` of a variable the node reads directly."""
    writes, elementwise = facts(node)
    if not (writes and elementwise):
        return None
    reads = {v.node.origin: v for v in node.inputs if v.node.op == "variable"}
    targets = {}
    for value in node.outputs:
        users = consumers.get(value, [])
        if value in fetched or len(users) != 1 or users[0].op != "assign":
            return None
        assign = users[0]
        var = assign.attrs["var"]
        read = reads.get(var)
        if (read is None or types[read] != types[value] or not concrete(types[value])
                or assign.outputs[0] in fetched or consumers.get(assign.outputs[0])
                or any(v != read and ("var", var) in roots[v] for v in node.inputs)):
            return None
        targets[value] = (var, assign)
    return targets


def _order_commits(candidates: dict, roots: dict) -> tuple[list, set]:
    """Order in-place kernels so a variable is overwritten only after every kernel reading it;
    a kernel caught in a read/write cycle stays in the normal phase (its writes are copied)."""
    reads = {node: {owner for v in node.inputs for kind, owner in roots[v] if kind == "var"}
             for node in candidates}
    remaining, order = dict(candidates), []
    while remaining:
        ready = [n for n in remaining if not any(
            other is not n and var in reads[other]
            for other in remaining for var, _ in remaining[n].values())]
        if not ready:
            remaining.pop(next(iter(remaining)))
        for node in ready:
            order.append(node)
            remaining.pop(node)
    absorbed = {assign for node in order for _, assign in candidates[node].values()}
    return order, absorbed


def _last_uses(steps: list, kept: set) -> dict:
    """Position of each value's last reader; ``END`` for values kept to the end of the run."""
    last = {}
    for position, node in enumerate(steps):
        for v in node.outputs:
            last[v] = position
        for v in node.inputs:
            last[v] = position
    for v in kept:
        last[v] = END
    return last


def _place(plan, program, types, facts, roots, last, fetched) -> None:
    """Assign placements; a planned buffer is reused once every alias is past its last use."""
    release: dict = {}
    for value, rs in roots.items():
        for kind, owner in rs:
            if kind == "buf":
                release[owner] = max(release.get(owner, -1), last.get(value, -1))
    for node in program.inputs:
        plan.placement[node.outputs[0]] = Placement("external")
    pool = _BufferPool(plan.buffers)
    for position, node in enumerate(plan.order):
        writes, elementwise = facts(node)
        if elementwise:  # an output may take over an input dying here (in place)
            pool.release(position, release, lambda v: _sole_alias(v, node, roots))
        dynamic = writes and not all(concrete(types[v]) for v in node.outputs)
        for value in node.outputs:
            plan.placement[value] = Placement("dynamic") if dynamic else \
                _placement(node, value, writes, types, fetched, pool)
        pool.release(position, release)
    for node in plan.commit_kernels:
        for value in node.outputs:
            plan.placement[value] = Placement("storage", var=_assigned_var(node, value, program))


def _sole_alias(value, node, roots) -> bool:
    """Whether no other input of ``node`` may alias ``value``'s buffer (e.g. a view of it)."""
    return value in node.inputs and not any(
        v != value and ("buf", value) in roots[v] for v in node.inputs)


def _placement(node, value, writes, types, fetched, pool) -> Placement:
    t = types[value]
    if node.op in ("variable", "constant"):
        return Placement("external")
    if not writes:
        return Placement("returned")
    if value in fetched:
        return Placement("fresh")
    return Placement("buffer", buffer=pool.take(value, t))


def _assigned_var(node, value, program):
    """The variable the (absorbed) assign of ``value`` writes."""
    return next(var for var, assign in program.writes.items() if assign.inputs[0] == value)


class _BufferPool:
    """Physical buffers by (shape, dtype): taken for a value, returned when it is released."""

    def __init__(self, buffers: list):
        self.buffers, self.free, self.holding = buffers, {}, {}

    def take(self, value, t) -> int:
        free = self.free.get((t.shape, t.dtype))
        if free:
            k = free.pop()
        else:
            k = len(self.buffers)
            self.buffers.append((t.shape, t.dtype))
        self.holding[k] = value
        return k

    def release(self, position, release, only=None) -> None:
        """Free the buffers whose values (and aliases) have no reader after ``position``."""
        for k, value in list(self.holding.items()):
            if release.get(value, -1) <= position and (only is None or only(value)):
                self.free.setdefault(self.buffers[k], []).append(k)
                del self.holding[k]
