"""TF1-style training: optimizers (slots are Variables), global step, learning-rate schedules."""
from .adagrad import AdagradOptimizer
from .adam import AdamOptimizer
from .global_step import (assert_global_step, create_global_step, get_global_step,
                          get_or_create_global_step)
from .gradient_descent import GradientDescentOptimizer
from .momentum import MomentumOptimizer
from .optimizer import Optimizer
from .rmsprop import RMSPropOptimizer
from .schedules import exponential_decay, inverse_time_decay, piecewise_constant

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdagradOptimizer",
           "RMSPropOptimizer", "AdamOptimizer", "get_or_create_global_step", "get_global_step",
           "create_global_step", "assert_global_step", "exponential_decay",
           "inverse_time_decay", "piecewise_constant"]
