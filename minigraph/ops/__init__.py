"""All ops, by family. Importing this package registers every op in ``registry.REGISTRY``."""
from . import (autodiff_ops, creation, elementwise, fused, indexing, linalg, nn, random, reduce,
               shape, state)
from . import fused_xent  # noqa: F401  (compiler-internal ops, registered but not public)

# Computed before the star imports below, which rebind names such as ``shape`` and ``random``.
__all__ = ["broadcast_like", "sum_to"] + [
    name for family in (creation, elementwise, indexing, linalg, nn, random, reduce, shape, state)
    for name in family.__all__]

from .autodiff_ops import broadcast_like, sum_to  # noqa: E402
from .creation import *  # noqa: E402
from .elementwise import *  # noqa: E402
from .indexing import *  # noqa: E402
from .linalg import *  # noqa: E402
from .nn import *  # noqa: E402
from .random import *  # noqa: E402
from .reduce import *  # noqa: E402
from .shape import *  # noqa: E402
from .state import *  # noqa: E402
