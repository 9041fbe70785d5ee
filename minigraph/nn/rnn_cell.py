"""TF1's ``tf.nn.rnn_cell``: basic RNN, LSTM and GRU cells and their stacks, over public ops.

A cell creates its variables with ``get_variable`` on its first call, when the input depth is
known, in the variable scope ``scope or <its name>`` (``basic_lstm_cell``, ``basic_lstm_cell_1``
... when unnamed) opened below the caller's, with its ``reuse``; every later call reuses them
(unrolled in a Python loop or inside ``scan``). As in TF1, a new cell built in a reusing scope
shares the variables of an earlier cell with the same scope path. The step math is kept in pure
functions of (inputs, state, weights): ``basic_rnn_step``, ``lstm_step`` and ``gru_step``.
Variable layout and formulas follow TF1's ``rnn_cell_impl``: one kernel over
``concat([inputs, h], 1)`` of shape ``[input_depth + num_units, k * num_units]``.
"""
from __future__ import annotations

import collections
import re

from .. import dtypes
from ..graph import name_scope
from ..initializers import Constant, Zeros
from ..ops import elementwise
from ..ops.creation import zeros
from ..ops.elementwise import clip_by_value, sigmoid, tanh
from ..ops.linalg import matmul
from ..ops.shape import concat, split
from ..tensor import Tensor, convert_to_tensor
from ..variable_scope import VariableScope, get_variable, variable_scope
from ..variables import Variable

# -- nested structures (tuples, namedtuples and lists of tensors) ---------------------------------


def flatten(structure) -> list:
    """The leaves of a nest of tuples/lists, depth first."""
    if isinstance(structure, (tuple, list)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_sequence_as(structure, flat):
    """``flat`` leaves rebuilt into the shape of ``structure`` (namedtuples keep their type)."""
    leaves = iter(flat)
    packed = _pack(structure, leaves)
    if next(leaves, None) is not None:
        raise ValueError("pack_sequence_as: more leaves than the structure holds")
    return packed


def _pack(structure, leaves):
    if not isinstance(structure, (tuple, list)):
        return next(leaves)
    items = [_pack(item, leaves) for item in structure]
    if isinstance(structure, list):
        return items
    return type(structure)(*items) if hasattr(structure, "_fields") else tuple(items)


def map_structure(fn, structure):
    """``fn`` applied to every leaf, keeping the nesting."""
    return pack_sequence_as(structure, [fn(leaf) for leaf in flatten(structure)])


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM state: cell state ``c`` and hidden state (output) ``h``."""

    __slots__ = ()

    @property
    def dtype(self):
        if self.c.dtype != self.h.dtype:
            raise TypeError(f"LSTMStateTuple: c is {self.c.dtype} but h is {self.h.dtype}")
        return self.c.dtype


# -- step math: pure functions of (inputs, state, weights) ----------------------------------------


def basic_rnn_step(inputs, h, kernel, bias, activation=tanh) -> Tensor:
    """``act(concat([x, h]) @ W + b)``: the new state, which is also the output."""
    return activation(matmul(concat([inputs, h], 1), kernel) + bias)


def lstm_step(inputs, c, h, kernel, bias, forget_bias=1.0, activation=tanh, peepholes=None,
              cell_clip=None, projection=None, proj_clip=None) -> tuple:
    """One LSTM step with gate order i, j, f, o; returns ``(new_c, new_h)``.

    ``peepholes`` is ``(w_f_diag, w_i_diag, w_o_diag)``; ``projection`` a ``[units, proj]`` kernel.
    """
    gates = matmul(concat([inputs, h], 1), kernel) + bias
    i, j, f, o = split(gates, 4, axis=1)
    if peepholes is not None:
        w_f, w_i, w_o = peepholes
        new_c = sigmoid(f + forget_bias + w_f * c) * c + sigmoid(i + w_i * c) * activation(j)
    else:
        new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j)
    if cell_clip is not None:
        new_c = clip_by_value(new_c, -cell_clip, cell_clip)
    gate_o = o + w_o * new_c if peepholes is not None else o
    new_h = activation(new_c) * sigmoid(gate_o)
    if projection is not None:
        new_h = matmul(new_h, projection)
        if proj_clip is not None:
            new_h = clip_by_value(new_h, -proj_clip, proj_clip)
    return new_c, new_h


def gru_step(inputs, h, gate_kernel, gate_bias, candidate_kernel, candidate_bias,
             activation=tanh) -> Tensor:
    """One GRU step: reset/update gates, then ``u * h + (1 - u) * candidate``."""
    value = sigmoid(matmul(concat([inputs, h], 1), gate_kernel) + gate_bias)
    r, u = split(value, 2, axis=1)
    candidate = activation(matmul(concat([inputs, r * h], 1), candidate_kernel) + candidate_bias)
    return u * h + (1 - u) * candidate


# -- initializers ---------------------------------------------------------------------------------

constant_initializer = Constant  # TF1's ``tf.constant_initializer`` (cells' bias defaults)


def _activation(activation):
    """``None`` means tanh; a string names an activation in ``mg.nn``."""
    if activation is None:
        return tanh
    if isinstance(activation, str):
        if activation == "linear":
            return lambda x: x
        return getattr(elementwise, activation)
    return activation


def _snake_case(name: str) -> str:
    """``BasicLSTMCell`` -> ``basic_lstm_cell`` (the default layer name TF1 gives a cell)."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _check_float(tensors) -> None:
    for t in flatten(tensors):
        if not dtypes.is_float(t.dtype):
            raise ValueError(f"RNN cell only supports floating point inputs, but saw dtype: "
                             f"{t.dtype}")


# -- cells ----------------------------------------------------------------------------------------


class RNNCell:
    """Abstract TF1 RNN cell: ``output, new_state = cell(inputs, state)``.

    Subclasses give ``state_size``, ``output_size``, ``call(inputs, state)`` and, when they own
    variables, ``build(input_depth)`` (which runs once, inside the cell's variable scope, making
    them with ``add_variable``).
    """

    def __init__(self, trainable=True, name=None, dtype=None, reuse=None):
        self.name = name or _snake_case(type(self).__name__)
        self.dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self.trainable = trainable
        self.built = False
        self._reuse = reuse
        self._scope: VariableScope | None = None  # set on the first call, as TF1's Layer does
        self._own_variables: list = []
        self._input_depth = None

    @property
    def scope_name(self):
        """The cell's variable scope name (known after its first call)."""
        return None if self._scope is None else self._scope.name

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    def call(self, inputs, state):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, state)")

    def build(self, input_depth: int) -> None:
        """Create the cell's variables (none by default)."""

    def __call__(self, inputs, state, scope=None):
        """Run one step; the first call creates the variables, later calls reuse them.

        ``scope`` (a name or ``VariableScope``) names the cell's variable scope on the first
        call; later calls always use the scope captured then, reusing its variables.
        """
        inputs = map_structure(convert_to_tensor, inputs)
        state = map_structure(convert_to_tensor, state)
        if self._scope is None:
            self._scope = self._capture_scope(scope)
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            with name_scope(self._scope.original_name_scope):
                if not self.built:
                    self._build_for(inputs)
                elif self._input_depth is not None:
                    self._check_depth(inputs)
                return self.call(inputs, state)

    def _capture_scope(self, scope) -> VariableScope:
        """TF1's ``Layer._set_scope``: a reusing cell takes ``scope or name`` as is, any other
        one a fresh ``name``/``name_1``... unless ``scope`` is given."""
        if self._reuse:
            opened = variable_scope(scope if scope is not None else self.name)
        else:
            opened = variable_scope(scope, default_name=self.name)
        with opened as captured:
            return captured

    def _build_for(self, inputs) -> None:
        if isinstance(inputs, Tensor) and type(self).build is not RNNCell.build:
            _check_float(inputs)
            self._input_depth = self._depth_of(inputs)
            if self.dtype is None:
                self.dtype = inputs.dtype
            self.build(self._input_depth)
        self.built = True

    def _depth_of(self, inputs: Tensor) -> int:
        shape = inputs.type.shape
        if shape is None or len(shape) != 2:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs must be 2-D "
                             f"[batch, depth], got shape {inputs.get_shape()}")
        if shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected inputs.shape[-1] to "
                             f"be known, saw shape: {inputs.get_shape()}")
        return shape[-1]

    def _check_depth(self, inputs) -> None:
        depth = self._depth_of(inputs)
        if depth != self._input_depth:
            raise ValueError(f"{type(self).__name__} '{self.name}' was built for inputs of depth "
                             f"{self._input_depth} and now gets depth {depth}")

    def add_variable(self, name, shape, initializer=None) -> Variable:
        """``get_variable(name)`` in the cell's variable scope, kept as one of its variables
        (``initializer=None`` takes the scope's initializer, else glorot-uniform)."""
        var = get_variable(name, shape, self.dtype, initializer=initializer,
                           trainable=self.trainable)
        self._own_variables.append(var)
        return var

    @property
    def variables(self) -> list:
        return list(self._own_variables)

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if v.trainable]

    @property
    def weights(self) -> list:
        return self.variables

    @property
    def trainable_weights(self) -> list:
        return self.trainable_variables

    def zero_state(self, batch_size, dtype):
        """Zero-filled state(s) ``[batch_size, s]`` for each ``s`` in ``state_size``."""
        dtype = dtypes.as_dtype(dtype)
        with name_scope(type(self).__name__ + "ZeroState"):
            return map_structure(lambda size: zeros([batch_size, size], dtype), self.state_size)


class BasicRNNCell(RNNCell):
    """The most basic RNN: ``output = new_state = act(W @ [input, state] + b)``."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, reuse=reuse)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_depth):
        n = self._num_units
        self._kernel = self.add_variable("kernel", [input_depth + n, n])
        self._bias = self.add_variable("bias", [n], Zeros())

    def call(self, inputs, state):
        _check_float([inputs, state])
        output = basic_rnn_step(inputs, state, self._kernel, self._bias, self._activation)
        return output, output


class BasicLSTMCell(RNNCell):
    """TF1's basic LSTM (no peepholes, clipping or projection); ``forget_bias`` is added."""

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None,
                 reuse=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, reuse=reuse)
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_depth):
        n = self._num_units
        self._kernel = self.add_variable("kernel", [input_depth + n, 4 * n])
        self._bias = self.add_variable("bias", [4 * n], Zeros())

    def call(self, inputs, state):
        _check_float([inputs, state])
        c, h = state if self._state_is_tuple else split(state, 2, axis=1)
        new_c, new_h = lstm_step(inputs, c, h, self._kernel, self._bias, self._forget_bias,
                                 self._activation)
        new_state = (LSTMStateTuple(new_c, new_h) if self._state_is_tuple
                     else concat([new_c, new_h], 1))
        return new_h, new_state


class LSTMCell(RNNCell):
    """TF1's LSTM with optional peepholes, cell clipping and an output projection."""

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None,
                 num_proj=None, proj_clip=None, num_unit_shards=None, num_proj_shards=None,
                 forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None):
        super().__init__(name=name, dtype=dtype, reuse=reuse)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell: num_unit_shards/num_proj_shards (variable "
                                      "partitioning) are not supported")
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n, m = self._num_units, self._num_proj or self._num_units
        return LSTMStateTuple(n, m) if self._state_is_tuple else n + m

    @property
    def output_size(self):
        return self._num_proj or self._num_units

    def build(self, input_depth):
        n, init = self._num_units, self._initializer
        self._kernel = self.add_variable("kernel", [input_depth + self.output_size, 4 * n], init)
        self._bias = self.add_variable("bias", [4 * n], Zeros())
        self._peepholes = None
        if self._use_peepholes:
            self._peepholes = tuple(self.add_variable(f"w_{g}_diag", [n], init) for g in "fio")
        self._projection = None
        if self._num_proj is not None:
            self._projection = self.add_variable("projection/kernel", [n, self._num_proj], init)

    def call(self, inputs, state):
        _check_float([inputs, state])
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = state[:, :self._num_units], state[:, self._num_units:]
        new_c, new_h = lstm_step(inputs, c, h, self._kernel, self._bias, self._forget_bias,
                                 self._activation, self._peepholes, self._cell_clip,
                                 self._projection, self._proj_clip)
        new_state = (LSTMStateTuple(new_c, new_h) if self._state_is_tuple
                     else concat([new_c, new_h], 1))
        return new_h, new_state


class GRUCell(RNNCell):
    """Gated recurrent unit; gate biases start at 1 (TF1's default), candidate biases at 0."""

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None,
                 bias_initializer=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, reuse=reuse)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_depth):
        n, kernel_init, bias_init = (self._num_units, self._kernel_initializer,
                                     self._bias_initializer)
        self._gate_kernel = self.add_variable("gates/kernel", [input_depth + n, 2 * n], kernel_init)
        self._gate_bias = self.add_variable("gates/bias", [2 * n],
                                            bias_init or constant_initializer(1.0))
        self._candidate_kernel = self.add_variable("candidate/kernel", [input_depth + n, n],
                                                   kernel_init)
        self._candidate_bias = self.add_variable("candidate/bias", [n],
                                                 bias_init or Zeros())

    def call(self, inputs, state):
        _check_float([inputs, state])
        new_h = gru_step(inputs, state, self._gate_kernel, self._gate_bias,
                         self._candidate_kernel, self._candidate_bias, self._activation)
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """Cells applied in sequence, each one's output the next one's input (a stacked RNN)."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not isinstance(cells, (list, tuple)):
            raise TypeError(f"cells must be a list or tuple, but saw: {cells!r}")
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not state_is_tuple and any(isinstance(c.state_size, tuple) for c in cells):
            raise ValueError("Some cells return tuples of states, but the flag state_is_tuple is "
                             f"not set.  State sizes are: {[c.state_size for c in cells]}")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple

    @property
    def state_size(self):
        sizes = tuple(cell.state_size for cell in self._cells)
        return sizes if self._state_is_tuple else sum(sizes)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    @property
    def variables(self) -> list:
        unique = {id(v): v for cell in self._cells for v in cell.variables}
        return list(unique.values())

    def zero_state(self, batch_size, dtype):
        if not self._state_is_tuple:
            return super().zero_state(batch_size, dtype)
        with name_scope(type(self).__name__ + "ZeroState"):
            return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

    def call(self, inputs, state):
        if self._state_is_tuple and (not isinstance(state, (tuple, list))
                                     or len(state) != len(self._cells)):
            raise ValueError(f"Expected state to be a tuple of length {len(self._cells)}, but "
                             f"received: {state!r}")
        position, layer_input, new_states = 0, inputs, []
        for k, cell in enumerate(self._cells):
            with variable_scope(f"cell_{k}"):
                if self._state_is_tuple:
                    layer_state = state[k]
                else:
                    layer_state = state[:, position:position + cell.state_size]
                    position += cell.state_size
                layer_input, new_state = cell(layer_input, layer_state)
            new_states.append(new_state)
        return layer_input, (tuple(new_states) if self._state_is_tuple
                             else concat(new_states, 1))


__all__ = ["RNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
           "LSTMStateTuple", "basic_rnn_step", "lstm_step", "gru_step"]
