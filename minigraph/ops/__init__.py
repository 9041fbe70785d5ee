"""All ops, by family. Importing this package registers every op in ``registry.REGISTRY``."""
from . import (autodiff_ops, control, control_flow, conv, creation, elementwise, fused, indexing,
               linalg, nn, random, reduce, sampling, shape, sparse, state, subtensor)
from . import fused_xent  # noqa: F401  (compiler-internal ops, registered but not public)

# Computed before the star imports below, which rebind names such as ``shape`` and ``random``.
__all__ = ["broadcast_like", "sum_to"] + [
    name for family in (control, control_flow, conv, creation, elementwise, indexing, linalg, nn,
                        random, reduce, sampling, shape, sparse, state, subtensor)
    for name in family.__all__]

from .autodiff_ops import broadcast_like, sum_to  # noqa: E402
from .control import *  # noqa: E402
from .control_flow import *  # noqa: E402
from .conv import *  # noqa: E402
from .creation import *  # noqa: E402
from .elementwise import *  # noqa: E402
from .indexing import *  # noqa: E402
from .linalg import *  # noqa: E402
from .nn import *  # noqa: E402
from .random import *  # noqa: E402
from .reduce import *  # noqa: E402
from .sampling import *  # noqa: E402
from .shape import *  # noqa: E402
from .sparse import *  # noqa: E402
from .state import *  # noqa: E402
from .subtensor import *  # noqa: E402
