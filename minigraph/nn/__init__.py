"""TF1's ``tf.nn`` namespace: activations, softmax and the cross-entropy losses."""
from ..ops.elementwise import elu, leaky_relu, relu, relu6, sigmoid, softplus, tanh
from ..ops.nn import (l2_loss, log_softmax, sigmoid_cross_entropy_with_logits, softmax,
                      softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2,
                      sparse_softmax_cross_entropy_with_logits)

__all__ = ["elu", "leaky_relu", "relu", "relu6", "sigmoid", "softplus", "tanh", "l2_loss",
           "log_softmax", "sigmoid_cross_entropy_with_logits", "softmax",
           "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
           "sparse_softmax_cross_entropy_with_logits"]
