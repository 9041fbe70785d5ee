"""``scratch(n, dtype)``: a 1-D array on the calling function's stack, for the fused kernels'
per-segment buffers.

A stack buffer costs nothing to allocate (a heap one costs a call into Numba's allocator per
kernel call), and LLVM knows it aliases no argument array, so the loops writing it vectorise
without run-time overlap checks. It must not outlive the function: never return or store it.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def scratch(typingctx, size, dtype):
    """An uninitialised C array of ``size`` (a literal int) elements of ``dtype`` on the stack."""
    if not isinstance(size, types.IntegerLiteral) or not isinstance(dtype, types.NumberClass):
        return None
    n, item = size.literal_value, dtype.instance_type

    def codegen(context, builder, signature, args):
        data_type = context.get_data_type(item)
        width = context.get_abi_sizeof(data_type)
        array = context.make_array(signature.return_type)(context, builder)
        context.populate_array(
            array, data=cgutils.alloca_once(builder, data_type, size=n),
            shape=[context.get_constant(types.intp, n)],
            strides=[context.get_constant(types.intp, width)],
            itemsize=context.get_constant(types.intp, width), meminfo=None)
        return array._getvalue()
    return types.Array(item, 1, "C")(size, dtype), codegen
