"""dead_code: only what reaches outputs and writes survives; feeds stay positional."""
import numpy as np

import minigraph as mg
from minigraph.compiler.pipeline import PASSES

from .util import ops, optimised, program_of, run


def test_unused_branch_is_removed():
    x = mg.placeholder("float64", (3,))
    y = mg.sin(x)
    unused = mg.cos(x) * 2.0
    program = program_of([y, unused], [x])
    program.outputs = program.outputs[:1]  # as if only y were fetched
    result = optimised(program, "dead_code")
    assert ops(result) == ["sin"]
    np.testing.assert_allclose(run(result, [np.ones(3)])[0], np.sin(np.ones(3)))


def test_writes_and_unused_inputs_survive():
    x = mg.placeholder("float64", (3,))
    unused = mg.placeholder("float64", (3,))
    v = mg.Variable(np.zeros(3))
    program = program_of([mg.assign_add(v, x * 2.0).node], [x, unused])
    result = optimised(program, "dead_code")
    assert len(result.inputs) == 2
    assert sorted(ops(result)) == ["assign_add", "constant", "multiply"]
    assert list(result.writes) == [v.node]


def test_returns_a_new_program_and_leaves_the_old_one():
    x = mg.placeholder("float64", (2,))
    program = program_of([mg.exp(x), mg.exp(x) + 1.0], [x])
    program.outputs = program.outputs[:1]
    before = list(program.nodes)
    result, fired = PASSES["dead_code"](program)
    assert result is not program and program.nodes == before
    assert fired == ["remove_unused"] * (len(before) - len(result.nodes)) and fired
    assert all(node in before for node in result.nodes)
