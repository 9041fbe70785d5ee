"""TF1's ``tf.nn`` namespace: activations, softmax, the cross-entropies and training helpers."""
from ..ops.conv import (avg_pool, bias_add, conv2d, conv2d_backprop_filter,
                        conv2d_backprop_input, conv2d_transpose, max_pool)
from ..ops.elementwise import elu, leaky_relu, relu, relu6, sigmoid, softplus, tanh
from ..ops.nn import (l2_loss, log_softmax, sigmoid_cross_entropy_with_logits, softmax,
                      softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2,
                      sparse_softmax_cross_entropy_with_logits)
from ..ops.selection import in_top_k, top_k
from . import rnn, rnn_cell, sampled
from .embedding import embedding_lookup
from .rnn import *
from .sampled import *
from .training import batch_normalization, dropout, l2_normalize, moments

__all__ = ["elu", "leaky_relu", "relu", "relu6", "sigmoid", "softplus", "tanh", "l2_loss",
           "log_softmax", "sigmoid_cross_entropy_with_logits", "softmax",
           "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
           "sparse_softmax_cross_entropy_with_logits", "batch_normalization", "dropout",
           "l2_normalize", "moments", "rnn_cell", "embedding_lookup", "conv2d", "max_pool",
           "avg_pool", "bias_add", "conv2d_backprop_filter", "conv2d_backprop_input",
           "conv2d_transpose", "in_top_k", "top_k"] \
    + rnn.__all__ + sampled.__all__
