"""All ops, by family. Importing this package registers every op in ``registry.REGISTRY``."""
from .autodiff_ops import broadcast_like, sum_to  # noqa: F401
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .random import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .state import *  # noqa: F401,F403
