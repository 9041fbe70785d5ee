"""minigraph: a graph-based tensor compiler with TensorFlow-1 and Theano style APIs."""
from . import dtypes, errors
from .autodiff import custom_gradient, grad, gradients, stop_gradient
from .clip import clip_by_global_norm, clip_by_norm, global_norm
from .compiler.explain import ExplainReport, explain
from .compiler.inspect import GraphvizNotFoundError, debugprint, render_dot, to_dot, to_networkx
from .config import config
from .device import device
from .dtypes import as_dtype, float16, float32, float64, int8, int16, int32, int64, uint8
from .function import function
from .graph_io import import_graph_def
from .initializers import (constant_initializer, glorot_normal_initializer,
                           glorot_uniform_initializer, ones_initializer, random_normal_initializer,
                           random_uniform_initializer, truncated_normal_initializer,
                           variance_scaling_initializer, zeros_initializer)
from .indexed_slices import IndexedSlices, IndexedSlicesValue
from .graph import (Graph, Node, TensorType, control_dependencies, get_default_graph,
                    name_scope, reset_default_graph, set_random_seed)
from .ops import *
from .ops.registry import InferError, OpDef, apply_op, defop
from .session import InteractiveSession, Session, get_default_session
from .symbols import *
from .tensor import Tensor, TensorShape, convert_to_tensor, is_tensor
from .variable_scope import (AUTO_REUSE, VariableScope, get_variable, get_variable_scope,
                             variable_scope)
from .variables import (SharedVariable, Variable, global_variables,
                        global_variables_initializer, initialize_all_variables, shared,
                        trainable_variables, variables_initializer)

from . import (backend, initializers, layers, losses, nn, random, summary, testing,  # noqa: E402
               train)
from .nn.rnn import reverse_sequence  # noqa: E402  (tf.reverse_sequence)

bool = dtypes.bool_  # noqa: A001  (mg.bool, as tf.bool)
Operation = Node
