"""TF1-style training: optimizers (slots are Variables), global step, schedules, checkpoints."""
from ..graph_io import write_graph
from .adagrad import AdagradOptimizer
from .adam import AdamOptimizer
from .global_step import (assert_global_step, create_global_step, get_global_step,
                          get_or_create_global_step)
from .gradient_descent import GradientDescentOptimizer
from .momentum import MomentumOptimizer
from .optimizer import Optimizer
from .rmsprop import RMSPropOptimizer
from .saver import Saver, get_checkpoint_state, import_meta_graph, latest_checkpoint
from .schedules import exponential_decay, inverse_time_decay, piecewise_constant

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdagradOptimizer",
           "RMSPropOptimizer", "AdamOptimizer", "get_or_create_global_step", "get_global_step",
           "create_global_step", "assert_global_step", "exponential_decay",
           "inverse_time_decay", "piecewise_constant", "Saver", "get_checkpoint_state",
           "latest_checkpoint", "import_meta_graph", "write_graph"]
