"""TF1's ``tf.nn.dynamic_rnn`` and ``bidirectional_dynamic_rnn``, built on ``scan``.

Inputs and states may be nests of tuples (an LSTM's ``LSTMStateTuple``, a ``MultiRNNCell``'s
tuple of those); they travel through ``scan`` flattened, one ``outputs_info`` entry per state
tensor, and are rebuilt for each cell call. With ``sequence_length``, outputs past a sequence's
length are zeros and its state is copied through, so the final state is the one at its length.
As in TF1, ``dynamic_rnn`` opens the variable scope ``scope or 'rnn'`` (a cell's variables are
``rnn/<cell>/kernel``...) and the bidirectional one ``bidirectional_rnn/fw`` and ``.../bw``.
"""
from __future__ import annotations

from .. import dtypes
from ..graph import name_scope
from ..ops import control
from ..ops.creation import range as arange
from ..ops.creation import zeros_like
from ..ops.elementwise import cast, less, where
from ..ops.indexing import gather
from ..ops.shape import expand_dims, reshape, transpose
from ..tensor import Tensor, convert_to_tensor
from ..variable_scope import variable_scope
from .rnn_cell import flatten, map_structure, pack_sequence_as


def _swap_batch_time(x: Tensor) -> Tensor:
    """``[a, b, ...]`` -> ``[b, a, ...]``: batch-major to time-major and back."""
    return transpose(x, [1, 0] + list(range(2, x.ndim)))


def _check_inputs(flat_inputs: list) -> None:
    for x in flat_inputs:
        if x.ndim is None or x.ndim < 3:
            raise ValueError(f"dynamic_rnn: inputs must be [batch, time, depth] (or time-major) "
                             f"tensors of rank >= 3, got shape {x.get_shape()}")
        if not dtypes.is_float(x.dtype):
            raise ValueError(f"dynamic_rnn: inputs must be floating point, got {x.dtype}")


def _initial_state(cell, initial_state, dtype, batch_size):
    """The given state (as tensors), or the cell's zero state of ``dtype``."""
    if initial_state is not None:
        return map_structure(convert_to_tensor, initial_state)
    if dtype is None:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch_size, dtype)


def _sequence_length(sequence_length, batch_size) -> Tensor:
    """``sequence_length`` as an int64 vector, its static length checked against the batch
    (float lengths are cast, as TF1 casts them to int32)."""
    lengths = convert_to_tensor(sequence_length)
    if lengths.dtype.kind not in "iuf" or lengths.ndim not in (1, None):
        raise ValueError(f"sequence_length must be an integer vector of size [batch_size] (floats "
                         f"are cast, as TF1 does), got "
                         f"{lengths.get_shape()} {lengths.dtype}")
    static = lengths.type.shape
    if isinstance(batch_size, int) and static is not None and static[0] not in (None, batch_size):
        raise ValueError(f"sequence_length has {static[0]} entries for a batch of {batch_size}")
    return cast(lengths, dtypes.int64, name="sequence_length")


def _step_mask(lengths: Tensor, time_steps) -> Tensor:
    """``[time, batch, 1]`` bool: whether step t is inside sequence b."""
    steps = arange(0, time_steps, dtype=dtypes.int64)
    return expand_dims(less(expand_dims(steps, 1), expand_dims(lengths, 0)), 2)


def _step_fn(cell, inputs, state, num_inputs: int, masked: bool):
    """The ``scan`` body: one cell step on flat tensors, masked past each sequence's end."""
    def step(*args):
        xs, rest = args[:num_inputs], args[num_inputs:]
        mask, flat_state = (rest[0], rest[1:]) if masked else (None, rest)
        output, new_state = cell(pack_sequence_as(inputs, list(xs)),
                                 pack_sequence_as(state, list(flat_state)))
        flat_output, flat_new = flatten(output), flatten(new_state)
        if masked:
            flat_output = [where(mask, o, zeros_like(o)) for o in flat_output]
            flat_new = [where(mask, new, old) for new, old in zip(flat_new, flat_state)]
        return flat_output + flat_new
    return step


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None,
                parallel_iterations=None, swap_memory=False, time_major=False, scope=None):
    """Run ``cell`` over the time axis of ``inputs``; returns ``(outputs, final_state)``.

    ``inputs`` is ``[batch, time, depth]`` (``[time, batch, depth]`` with ``time_major``) or a
    nest of such; ``outputs`` has the same major-ness. ``parallel_iterations`` and
    ``swap_memory`` are accepted for TF1 compatibility and have no effect.
    """
    with variable_scope(scope or "rnn"):
        flat_inputs = [convert_to_tensor(x) for x in flatten(inputs)]
        _check_inputs(flat_inputs)
        if not time_major:
            flat_inputs = [_swap_batch_time(x) for x in flat_inputs]
        time_steps, batch_size = flat_inputs[0].shape[0], flat_inputs[0].shape[1]
        state = _initial_state(cell, initial_state, dtype, batch_size)
        flat_state = flatten(state)
        sequences = list(flat_inputs)
        if sequence_length is not None:
            sequences.append(_step_mask(_sequence_length(sequence_length, batch_size), time_steps))
        step = _step_fn(cell, inputs, state, len(flat_inputs), sequence_length is not None)
        num_outputs = len(flatten(cell.output_size))
        results, _ = control.scan(step, sequences=sequences,
                                  outputs_info=[None] * num_outputs + flat_state,
                                  return_list=True)
        outputs, states = results[:num_outputs], results[num_outputs:]
        if not time_major:
            outputs = [_swap_batch_time(o) for o in outputs]
        final_state = pack_sequence_as(state, [s[-1] for s in states])
        return pack_sequence_as(cell.output_size, outputs), final_state


def _reverse_batch_major(x: Tensor, lengths: Tensor) -> Tensor:
    """``x[b, :lengths[b]]`` reversed for each b of a ``[batch, time, ...]`` tensor."""
    shape = x.shape
    batch, time_steps = shape[0], shape[1]
    steps = expand_dims(arange(0, time_steps, dtype=dtypes.int64), 0)
    ends = expand_dims(cast(lengths, dtypes.int64), 1)
    within = where(less(steps, ends), ends - 1 - steps, steps)
    rows = expand_dims(arange(0, batch, dtype=dtypes.int64), 1) * cast(time_steps, dtypes.int64)
    return gather(reshape(x, [-1] + list(shape[2:])), within + rows)


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None,
                     seq_dim=None, batch_dim=None) -> Tensor:
    """Reverse the first ``seq_lengths[b]`` entries along ``seq_axis`` of each batch entry b."""
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (batch_dim or 0) if batch_axis is None else batch_axis
    if seq_axis is None:
        raise ValueError("reverse_sequence: seq_axis must be given")
    x = convert_to_tensor(input)
    if x.ndim is None:
        raise ValueError("reverse_sequence: the input's rank must be known")
    seq_axis, batch_axis = seq_axis % x.ndim, batch_axis % x.ndim
    if seq_axis == batch_axis:
        raise ValueError(f"reverse_sequence: seq_axis and batch_axis are both {seq_axis}")
    with name_scope(name, "ReverseSequence"):
        perm = [batch_axis, seq_axis] + [a for a in range(x.ndim) if a not in (batch_axis,
                                                                             seq_axis)]
        inverse = [perm.index(a) for a in range(x.ndim)]
        reversed_ = _reverse_batch_major(transpose(x, perm), convert_to_tensor(seq_lengths))
        return transpose(reversed_, inverse)


def _reverse(x: Tensor, lengths, time_axis: int, batch_axis: int) -> Tensor:
    """Time reversed, within each sequence's length when lengths are given."""
    if lengths is None:
        key = (slice(None),) * time_axis + (slice(None, None, -1),)
        return x[key]
    return reverse_sequence(x, lengths, seq_axis=time_axis, batch_axis=batch_axis)


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None,
                              initial_state_fw=None, initial_state_bw=None, dtype=None,
                              parallel_iterations=None, swap_memory=False, time_major=False,
                              scope=None):
    """Forward and backward ``dynamic_rnn``; returns ``((out_fw, out_bw), (state_fw, state_bw))``.

    The backward cell reads each sequence reversed within its length; its outputs are reversed
    back, so both outputs are aligned with ``inputs``.
    """
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)

    def flip(nest):
        return map_structure(lambda x: _reverse(convert_to_tensor(x), sequence_length, time_axis,
                                                batch_axis), nest)

    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length, initial_state_fw,
                                              dtype, time_major=time_major, scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            reversed_output, state_bw = dynamic_rnn(cell_bw, flip(inputs), sequence_length,
                                                    initial_state_bw, dtype,
                                                    time_major=time_major, scope=bw_scope)
    output_bw = flip(reversed_output)
    return (output_fw, output_bw), (state_fw, state_bw)


__all__ = ["dynamic_rnn", "bidirectional_dynamic_rnn", "reverse_sequence"]
