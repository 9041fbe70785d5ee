"""CUDA source generator for fused elementwise DAGs (``kernels.scalar_expr.FusedDag``), the GPU
counterpart of ``kernels.numba.fusion_source``.

``generate_cuda(dag)`` returns a ``CudaSource``: one self-contained CUDA C++ text (no headers
but ``cuda_fp16.h`` when the DAG touches float16, so NVRTC / ``cupy.RawModule`` compile it as
is) holding

* ``<name>_eval`` and the public scalar functions ``<name>_out<k>`` (``__host__ __device__``):
  the DAG's value for output ``k`` at one point, from one scalar per input;
* the elementwise kernel ``<name>_ew`` (when the DAG has elementwise outputs; launched last,
  after the reductions, so it may write over an input they read): a grid-stride
  loop over the loop shape, reading every input with its own broadcast pattern by index
  arithmetic (32-bit index math when the loop has fewer than 2**31 elements), or one flat index
  when every input is full-shape or scalar;
* per group of reduction outputs sharing their reduced axes, ``<name>_red<g>`` then
  ``<name>_fin<g>``: a deterministic two-stage tree (no atomics). ``red`` gives each (kept
  element, split) item ``lanes`` threads of a block (``lanes`` a power of two, block size a
  multiple of it and at most ``MG_BLOCK`` = 256); each thread folds a strided run of the
  item's share of the reduced elements, the lanes combine in a shared-memory tree, and the
  item's partial goes to ``p<k>[item]`` (item = split * kept + kept index: split-major, so
  neighbouring items are neighbouring kept elements). ``fin`` folds the ``splits`` partials
  of each kept element in order and casts to the output dtype. Float
  sums accumulate in float64 (``accumulator_dtype``), max/min propagate NaN.

Every kernel is a thin shell around ``__host__ __device__`` functions (thread bodies, folds,
the tree's combine step), which the host harness (``kernels.cupy.harness``) runs on the CPU.
Kernel parameters, in order, are described by ``CudaSource.kernels``; ``kernels.cupy.launch``
turns input shapes into the launches (grid, block, arguments) and scratch buffers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..scalar_expr import FusedDag, accumulator_dtype, reduction_identity
from .cuda_expr import HALF_PRELUDE, PRELUDE, Emitter, ctype, literal, load, store, value_type

INT32_LIMIT = "2147483648LL"
MAX_GROUP = 16


@dataclass(frozen=True)
class KernelSpec:
    """One ``extern "C" __global__`` kernel: its kind (``elementwise``, ``reduce``, ``finish``),
    its parameters in call order as (C type, name) -- ``x<k>`` input ``k``, ``o<k>`` output
    ``k``, ``p<k>`` the partials of output ``k``, ``d<a>`` loop extent along axis ``a`` (``n``:
    the element count of a flat loop), ``splits``, ``lanes``, ``kept``; every scalar is a
    ``long long`` -- and the DAG outputs it produces or folds."""

    name: str
    kind: str
    params: tuple[tuple[str, str], ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class CudaSource:
    """Generated CUDA for one DAG. ``entry``: kernel names in launch order; ``kernels``: their
    parameter lists (``KernelSpec``); ``scalar_functions``: ``<name>_out<k>`` per DAG output,
    scalars in (inputs' dtypes; ``__half`` for float16), the output's value (before any
    reduction) out. ``partial_dtypes[k]``: dtype of the scratch partials of reduction output
    ``k`` (None for elementwise outputs). ``flat``: the kernels take one extent ``n`` instead
    of ``d0..``. Array arguments are C-contiguous device pointers: input ``k`` holds the loop
    extents where its pattern is True (size 1 elsewhere); an elementwise output may be a
    full-shape input's own buffer (the reductions run first, and the elementwise kernel reads
    each element before writing it)."""

    name: str
    source: str
    entry: tuple[str, ...]
    scalar_functions: tuple[str, ...]
    kernels: tuple[KernelSpec, ...]
    partial_dtypes: tuple[np.dtype | None, ...]
    flat: bool
    dag: FusedDag

    def kernel(self, name: str) -> KernelSpec:
        """The spec of kernel ``name``."""
        return next(k for k in self.kernels if k.name == name)


def dag_name(dag: FusedDag) -> str:
    """Stable C identifier of ``dag``'s kernels."""
    return "fused_" + hashlib.sha256(repr(dag).encode()).hexdigest()[:16]


def flat_compatible(dag: FusedDag) -> bool:
    """Whether every input is full-shape or scalar and every reduction covers all axes."""
    return (all(all(i.pattern) or not any(i.pattern) for i in dag.inputs)
            and all(o.reduce is None or o.axes is None for o in dag.outputs))


def reduction_groups(dag: FusedDag) -> list[tuple[tuple[int, ...], list[int]]]:
    """(reduced axes, output indices) of each group of reductions over the same axes (at most
    ``MAX_GROUP`` outputs, so their shared-memory trees fit in 32 KiB)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, out in enumerate(dag.outputs):
        if out.reduce is not None:
            groups.setdefault(dag.reduced_axes(out), []).append(k)
    return [(axes, ks[i:i + MAX_GROUP]) for axes, ks in groups.items()
            for i in range(0, len(ks), MAX_GROUP)]


def partial_dtype(reduce: str, dtype) -> np.dtype:
    """dtype a reduction's partials are kept in (float16 max/min in float32, as computed)."""
    dtype = np.dtype(dtype)
    if reduce == "sum":
        return accumulator_dtype(reduce, dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _fold(reduce: str, acc: str, a: str, b: str) -> str:
    return f"mg_sum({a}, {b})" if reduce == "sum" else f"mg_{reduce}imum<{acc}>({a}, {b})"


class _Writer:
    """Builds the source of one DAG, function by function."""

    def __init__(self, dag: FusedDag, name: str):
        self.dag, self.name, self.flat = dag, name, flat_compatible(dag)
        self.nd = 1 if self.flat else dag.ndim
        self.lines: list[str] = []
        self.kernels: list[KernelSpec] = []
        self.half = any(dag.value_dtype(v) == np.float16
                        for v in range(len(dag.inputs) + len(dag.nodes)))

    # -- small pieces -------------------------------------------------------------------------

    def out_dtype(self, k: int) -> np.dtype:
        return self.dag.value_dtype(self.dag.outputs[k].value)

    def fold(self, k: int, a: str, b: str) -> str:
        """C expression folding ``b`` into accumulator ``a`` of output ``k``."""
        return _fold(self.dag.outputs[k].reduce, self.acc_type(k), a, b)

    def acc_type(self, k: int) -> str:
        return ctype(partial_dtype(self.dag.outputs[k].reduce, self.out_dtype(k)))

    def dims(self, itype: str) -> list[str]:
        return [f"const {itype} n"] if self.flat else [f"const {itype} d{a}"
                                                       for a in range(self.nd)]

    def dim_names(self, cast: str = "") -> list[str]:
        return ["n"] if self.flat else [f"{cast}d{a}" for a in range(self.nd)]

    def inputs(self) -> list[str]:
        return [f"const {ctype(i.dtype)}* x{k}" for k, i in enumerate(self.dag.inputs)]

    def input_names(self) -> list[str]:
        return [f"x{k}" for k in range(len(self.dag.inputs))]

    def reads(self, index: str) -> list[str]:
        """The input elements read at the current point (flat index or axis indices i<a>)."""
        reads = []
        for k, spec in enumerate(self.dag.inputs):
            if self.flat:
                offset = index if all(spec.pattern) and spec.pattern else "0"
            else:
                offset = ""
                for a in (a for a, full in enumerate(spec.pattern) if full):
                    offset = f"i{a}" if not offset else f"{_grouped(offset)} * d{a} + i{a}"
                offset = offset or "0"
            reads.append(f"x{k}[{offset}]")
        return reads

    def evaluate(self, reads: list[str], indent: str) -> list[str]:
        """Statements declaring r<k> and evaluating the DAG into them."""
        decl = " ".join(f"{value_type(self.out_dtype(k))} r{k};"
                        for k in range(len(self.dag.outputs)))
        refs = ", ".join(f"r{k}" for k in range(len(self.dag.outputs)))
        return [f"{indent}{decl}", f"{indent}{self.name}_eval({', '.join(reads)}, {refs});"]

    def decompose(self, index: str, axes: list[int], var: str, indent: str) -> list[str]:
        """Axis indices i<a> of the row-major linear ``index`` over ``axes``."""
        if not axes:
            return []
        lines = [f"{indent}I {var} = {index};"]
        for a in reversed(axes[1:]):
            lines += [f"{indent}const I i{a} = {var} % d{a};", f"{indent}{var} /= d{a};"]
        return lines + [f"{indent}const I i{axes[0]} = {var};"]

    def emit(self, *lines: str):
        self.lines += [*lines, ""]

    # -- the scalar functions -----------------------------------------------------------------

    def scalar_part(self) -> list[str]:
        dag, n = self.dag, len(self.dag.inputs)
        args = [f"const {ctype(i.dtype)} a{k}" for k, i in enumerate(dag.inputs)]
        outs = [f"{value_type(self.out_dtype(k))}& r{k}" for k in range(len(dag.outputs))]
        body = [f"  const {value_type(i.dtype)} v{k} = {load(i.dtype, f'a{k}')};"
                for k, i in enumerate(dag.inputs)]
        emitter = Emitter(body, "  ")
        for j, node in enumerate(dag.nodes):
            result = emitter.term(dag.node_term(j), [f"v{v}" for v in node.operands])
            body.append(f"  const {value_type(node.dtype)} v{n + j} = {result};")
        self.half |= emitter.half
        body += [f"  r{k} = v{o.value};" for k, o in enumerate(dag.outputs)]
        self.emit(f"MG_HD void {self.name}_eval({', '.join(args + outs)}) {{", *body, "}")
        names = []
        for k in range(len(dag.outputs)):
            names.append(f"{self.name}_out{k}")
            dtype = self.out_dtype(k)
            self.emit(_head(f"__host__ __device__ inline {ctype(dtype)}", names[-1], args),
                      *self.evaluate([f"a{i}" for i in range(n)], "  "),
                      f"  return {store(dtype, f'r{k}')};", "}")
        return names

    # -- the elementwise kernel ---------------------------------------------------------------

    def elementwise(self):
        ks = [k for k, o in enumerate(self.dag.outputs) if o.reduce is None]
        if not ks:
            return
        outs = [f"{ctype(self.out_dtype(k))}* o{k}" for k in ks]
        arrays = self.input_names() + [f"o{k}" for k in ks]
        writes = [f"  o{k}[i] = {store(self.out_dtype(k), f'r{k}')};" for k in ks]
        if self.flat:
            self.emit(_head("MG_HD void", f"{self.name}_element",
                            ["const long long i"] + self.inputs() + outs),
                      *self.evaluate(self.reads("i"), "  "), *writes, "}")
        else:
            self.emit("template <class I>",
                      _head("MG_HD void", f"{self.name}_element",
                            ["const I i"] + self.inputs() + outs + self.dims("I")),
                      *self.decompose("i", list(range(self.nd)), "q", "  "),
                      *self.evaluate(self.reads("i"), "  "), *writes, "}")
        params = self.inputs() + outs + self.dims("long long")
        self.emit(_head("MG_HD void", f"{self.name}_ew_thread",
                        ["const long long start", "const long long step"] + params),
                  *self._ew_loops(arrays), "}")
        kernel = f"{self.name}_ew"
        self.emit(f'extern "C" __global__ void {kernel}({", ".join(params)}) {{',
                  f"  {self.name}_ew_thread((long long)blockIdx.x * blockDim.x + threadIdx.x, "
                  f"(long long)gridDim.x * blockDim.x, {', '.join(arrays + self.dim_names())});",
                  "}")
        self.kernels.append(KernelSpec(kernel, "elementwise", _split(params), tuple(ks)))

    def _ew_loops(self, arrays: list[str]) -> list[str]:
        element = f"{self.name}_element"
        if self.flat:
            return ["  for (long long i = start; i < n; i += step)",
                    f"    {element}(i, {', '.join(arrays)});"]
        total = " * ".join(self.dim_names())
        narrow = ", ".join(arrays + self.dim_names("(unsigned int)"))
        return [f"  const long long n = {total};",
                f"  if (n < {INT32_LIMIT}) {{",
                "    for (long long i = start; i < n; i += step)",
                f"      {element}<unsigned int>((unsigned int)i, {narrow});",
                "  } else {",
                "    for (long long i = start; i < n; i += step)",
                f"      {element}<long long>(i, {', '.join(arrays + self.dim_names())});",
                "  }"]

    # -- reductions ---------------------------------------------------------------------------

    def reductions(self):
        for g, (axes, ks) in enumerate(reduction_groups(self.dag)):
            reduced = [0] if self.flat else list(axes)
            kept = [] if self.flat else [a for a in range(self.nd) if a not in axes]
            self._fold_function(g, ks, reduced, kept)
            self._reduce_kernel(g, ks, reduced, kept)
            self._finish_kernel(g, ks)

    def _accs(self, ks: list[int]) -> list[str]:
        return [f"{self.acc_type(k)}& a{k}" for k in ks]

    def _fold_function(self, g: int, ks: list[int], reduced: list[int], kept: list[int]):
        """``<name>_fold<g>``: fold the values at reduced indices r, r + rstep, ... < rend of
        kept element j into the accumulators."""
        folds = []
        for k in ks:
            value = f"({self.acc_type(k)})r{k}" if self.dag.outputs[k].reduce == "sum" else f"r{k}"
            folds.append(f"    a{k} = {self.fold(k, f'a{k}', value)};")
        index = "r" if self.flat else "i"
        body = (self.decompose("j", kept, "q", "  ")
                + ["  for (; r < rend; r += rstep) {"]
                + ([] if self.flat else self.decompose("r", reduced, "p", "    "))
                + self.evaluate(self.reads(index), "    ") + folds + ["  }"])
        itype = "long long" if self.flat else "I"
        head = [] if self.flat else [f"const {itype} j"]
        params = (self._accs(ks) + head + [f"{itype} r", f"const {itype} rend",
                                           f"const {itype} rstep"] + self.inputs())
        template = [] if self.flat else ["template <class I>"]
        dims = [] if self.flat else self.dims("I")
        self.emit(*template, f"MG_HD void {self.name}_fold{g}({', '.join(params + dims)}) {{",
                  *body, "}")
        self._thread(g, ks, reduced, kept)

    def _thread(self, g: int, ks: list[int], reduced: list[int], kept: list[int]):
        """``<name>_red<g>_thread``: one thread's fold of its share of an item."""
        accs, fold = [f"a{k}" for k in ks], f"{self.name}_fold{g}"
        size = _product(reduced, self.flat)
        lines = [f"  const long long kept = {_product(kept, self.flat)}, size = {size};",
                 "  const long long s = item / kept, j = item - s * kept;",
                 "  const long long lo = s * size / splits + lane, hi = (s + 1) * size / splits;"]
        if self.flat:
            lines.append("  " + _call(fold, accs + ["lo", "hi", "lanes"] + self.input_names()))
        else:
            u = "(unsigned int)"
            narrow = accs + [f"{u}j", f"{u}lo", f"{u}hi", f"{u}lanes"] + self.input_names()
            wide = accs + ["j", "lo", "hi", "lanes"] + self.input_names()
            lines += [f"  if (kept * size < {INT32_LIMIT})",
                      f"    {fold}<unsigned int>({', '.join(narrow + self.dim_names(u))});",
                      "  else",
                      f"    {fold}<long long>({', '.join(wide + self.dim_names())});"]
        params = self._accs(ks) + ["const long long item", "const long long lane",
                                   "const long long lanes", "const long long splits"]
        self.emit(f"MG_HD void {self.name}_red{g}_thread("
                  f"{', '.join(params + self.inputs() + self.dims('long long'))}) {{",
                  *lines, "}")
        inits = [f"  a{k} = {self._identity(k)};" for k in ks]
        self.emit(f"MG_HD void {self.name}_red{g}_init({', '.join(self._accs(ks))}) {{",
                  *inits, "}")
        combines = [f"  s{k}[t] = {self.fold(k, f's{k}[t]', f's{k}[u]')};" for k in ks]
        shared = [f"{self.acc_type(k)}* s{k}" for k in ks]
        self.emit(f"MG_HD void {self.name}_red{g}_combine({', '.join(shared)}, const int t, "
                  "const int u) {", *combines, "}")

    def _identity(self, k: int) -> str:
        out = self.dag.outputs[k]
        acc = partial_dtype(out.reduce, self.out_dtype(k))
        return literal(reduction_identity(out.reduce, acc), acc)

    def _reduce_kernel(self, g: int, ks: list[int], reduced: list[int], kept: list[int]):
        name = f"{self.name}_red{g}"
        partials = [f"{self.acc_type(k)}* p{k}" for k in ks]
        params = self.inputs() + partials + self.dims("long long") + \
            ["const long long splits", "const long long lanes"]
        accs = [f"a{k}" for k in ks]
        self.emit(
            f'extern "C" __global__ void {name}({", ".join(params)}) {{',
            *[f"  __shared__ {self.acc_type(k)} s{k}[MG_BLOCK];" for k in ks],
            f"  const long long items = {_product(kept, self.flat)} * splits;",
            "  const long long per_block = blockDim.x / lanes;",
            "  const int t = threadIdx.x;",
            "  const long long lane = t % lanes;",
            "  for (long long base = blockIdx.x * per_block; base < items;"
            " base += gridDim.x * per_block) {",
            "    const long long item = base + t / lanes;",
            f"    {' '.join(f'{self.acc_type(k)} a{k};' for k in ks)}",
            f"    {name}_init({', '.join(accs)});",
            "    if (item < items)",
            "      " + _call(f"{name}_thread", accs + ["item", "lane", "lanes", "splits"]
                             + self.input_names() + self.dim_names()),
            *[f"    s{k}[t] = a{k};" for k in ks],
            "    __syncthreads();",
            "    for (long long w = lanes / 2; w > 0; w /= 2) {",
            f"      if (lane < w) {name}_combine({', '.join(f's{k}' for k in ks)}, t, t + (int)w);",
            "      __syncthreads();",
            "    }",
            "    if (lane == 0 && item < items) {",
            *[f"      p{k}[item] = s{k}[t];" for k in ks],
            "    }",
            "    __syncthreads();",
            "  }",
            "}")
        self.kernels.append(KernelSpec(name, "reduce", _split(params), tuple(ks)))

    def _finish_kernel(self, g: int, ks: list[int]):
        name = f"{self.name}_fin{g}"
        partials = [f"const {self.acc_type(k)}* p{k}" for k in ks]
        outs = [f"{ctype(self.out_dtype(k))}* o{k}" for k in ks]
        arrays = [f"p{k}" for k in ks] + [f"o{k}" for k in ks]
        body = [f"  {self.acc_type(k)} a{k} = p{k}[j];" for k in ks]
        body += ["  for (long long s = 1; s < splits; ++s) {"]
        body += [f"    a{k} = {self.fold(k, f'a{k}', f'p{k}[s * kept + j]')};" for k in ks]
        body += ["  }"] + [f"  o{k}[j] = {self._final(k)};" for k in ks]
        self.emit(_head("MG_HD void", f"{name}_one", ["const long long j"] + partials + outs
                        + ["const long long kept", "const long long splits"]), *body, "}")
        params = partials + outs + ["const long long kept", "const long long splits"]
        self.emit(f'extern "C" __global__ void {name}({", ".join(params)}) {{',
                  "  for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
                  "j < kept; j += (long long)gridDim.x * blockDim.x)",
                  f"    {name}_one(j, {', '.join(arrays)}, kept, splits);", "}")
        self.kernels.append(KernelSpec(name, "finish", _split(params), tuple(ks)))

    def _final(self, k: int) -> str:
        """The accumulator of output ``k`` as its stored output element."""
        dtype, reduce = self.out_dtype(k), self.dag.outputs[k].reduce
        if dtype == np.float16:
            return f"__double2half(a{k})" if reduce == "sum" else f"__float2half(a{k})"
        return f"({ctype(dtype)})a{k}" if reduce == "sum" else f"a{k}"

    # -- the whole source ---------------------------------------------------------------------

    def source(self) -> tuple[str, list[str]]:
        scalars = self.scalar_part()
        self.reductions()  # first: an elementwise output may overwrite an input they read
        self.elementwise()
        header = [f"// Generated by {__name__}; do not edit.", *self._describe(), ""]
        header += [PRELUDE + (HALF_PRELUDE if self.half else "")]
        return "\n".join(header + self.lines), scalars

    def _describe(self) -> list[str]:
        dag, n = self.dag, len(self.dag.inputs)
        lines = [f"// v{k} = x{k}: {i.dtype}, pattern {i.pattern}"
                 for k, i in enumerate(dag.inputs)]
        lines += [f"// v{n + j} = {' '.join(node.expr.split())} over "
                  f"{', '.join(f'v{v}' for v in node.operands)}: {node.dtype}"
                  for j, node in enumerate(dag.nodes)]
        lines += [f"// output {k}: v{o.value}" + (f", {o.reduce} over axes {o.axes or 'all'}"
                                                  if o.reduce else "")
                  for k, o in enumerate(dag.outputs)]
        return lines + [f"// loop: {'flat' if self.flat else f'{self.nd}-d'}"]


def _product(axes: list[int], flat: bool) -> str:
    if flat:
        return "n" if axes else "1LL"
    return " * ".join(f"d{a}" for a in axes) or "1LL"


def _head(prefix: str, name: str, params: list[str]) -> str:
    return f"{prefix} {name}({', '.join(params)}) {{"


def _call(name: str, args: list[str]) -> str:
    return f"{name}({', '.join(args)});"


def _grouped(text: str) -> str:
    return f"({text})" if " " in text else text


def _split(params: list[str]) -> tuple[tuple[str, str], ...]:
    """(C type, name) pairs of C parameter declarations (``const`` dropped from scalars)."""
    pairs = []
    for p in params:
        ctext, name = p.rsplit(" ", 1)
        pairs.append((ctext.removeprefix("const ") if "*" not in ctext else ctext, name))
    return tuple(pairs)


def generate_cuda(dag: FusedDag, name: str | None = None) -> CudaSource:
    """The CUDA source, kernels and scalar functions of ``dag`` (named ``name``, default
    ``dag_name(dag)``)."""
    name = name or dag_name(dag)
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"kernel name {name!r} is not a C identifier")
    writer = _Writer(dag, name)
    source, scalars = writer.source()
    partials = tuple(None if o.reduce is None else
                     partial_dtype(o.reduce, dag.value_dtype(o.value)) for o in dag.outputs)
    return CudaSource(name, source, tuple(k.name for k in writer.kernels), tuple(scalars),
                      tuple(writer.kernels), partials, writer.flat, dag)
