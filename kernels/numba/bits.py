"""LLVM-level scalar intrinsics for branch-free math: bit-casts, rint and unchecked division.

Each lowers to a single LLVM instruction (or intrinsic call) that the loop vectoriser widens, and
none depends on the caller's ``error_model`` or fast-math flags.
"""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_INT_OF = {types.float32: types.int32, types.float64: types.int64}


def _llvm_int(ty: types.Type) -> ir.IntType:
    """Return the LLVM integer type with the bit width of the Numba type ``ty``."""
    return ir.IntType(ty.bitwidth)


def _resize(builder: ir.IRBuilder, value: ir.Value, src: types.Integer, dst_bits: int):
    """Truncate or sign/zero-extend an integer value to ``dst_bits`` bits."""
    dst = ir.IntType(dst_bits)
    if src.bitwidth > dst_bits:
        return builder.trunc(value, dst)
    if src.bitwidth < dst_bits:
        return builder.sext(value, dst) if src.signed else builder.zext(value, dst)
    return value


@intrinsic
def as_int(typingctx, x):
    """Reinterpret a float32/float64 as the int32/int64 with the same bits."""
    if x not in _INT_OF:
        return None
    ity = _INT_OF[x]

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _llvm_int(ity))
    return ity(x), codegen


def _make_as_float(fty: types.Float):
    """Build an intrinsic reinterpreting an integer (resized to the float's width) as ``fty``."""
    @intrinsic
    def as_float(typingctx, i):
        if not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            bits = _resize(builder, args[0], i, fty.bitwidth)
            return builder.bitcast(bits, context.get_value_type(fty))
        return fty(i), codegen
    return as_float


as_f32 = _make_as_float(types.float32)
as_f64 = _make_as_float(types.float64)


@intrinsic
def rint(typingctx, x):
    """Round to the nearest integer (ties to even) via ``llvm.rint``; immune to fast-math."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        lty = context.get_value_type(x)
        fn = builder.module.declare_intrinsic("llvm.rint", [lty])
        return builder.call(fn, args)
    return x(x), codegen


@intrinsic
def fdiv(typingctx, a, b):
    """IEEE float division ``a / b`` with no zero-divisor check, whatever the error model."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, sig, args):
        return builder.fdiv(args[0], args[1])
    return a(a, b), codegen
