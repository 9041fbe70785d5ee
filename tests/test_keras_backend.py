"""The Keras-style backend ``minigraph.backend`` (``K``): Keras 2 semantics over minigraph."""
import numpy as np
import pytest

import minigraph as mg
from minigraph import backend as K
from minigraph.config import config


@pytest.fixture(autouse=True)
def restore_config():
    saved = dict(vars(config), sources=dict(config.sources))
    yield
    vars(config).clear()
    vars(config).update(saved)


def run(fetches, feed=None):
    with mg.Session() as sess:
        return sess.run(fetches, feed)


def test_placeholders_take_a_shape_or_a_rank_and_default_to_floatx():
    assert K.int_shape(K.placeholder(shape=(None, 3))) == (None, 3)
    p = K.placeholder(ndim=2, dtype="int32", name="ids")
    assert K.int_shape(p) == (None, None) and K.dtype(p) == "int32" and K.ndim(p) == 2
    assert K.dtype(K.placeholder()) == "float32" and K.int_shape(K.placeholder()) is None
    with pytest.raises(NotImplementedError, match="sparse"):
        K.placeholder((2, 2), sparse=True)


def test_variables_hold_floatx_values_that_can_be_read_and_written():
    v = K.variable([[1, 2], [3, 4]], name="v")
    assert K.dtype(v) == "float32" and K.int_shape(v) == (2, 2) and K.count_params(v) == 4
    np.testing.assert_array_equal(K.get_value(v), [[1, 2], [3, 4]])
    K.set_value(v, np.full((2, 2), 0.1, np.float64))  # cast to the variable's dtype, as Keras
    np.testing.assert_allclose(K.eval(v), 0.1, rtol=1e-6)
    K.batch_set_value([(v, np.ones((2, 2)))])
    assert K.batch_get_value([v, v * 2.0])[1].tolist() == [[2, 2], [2, 2]]
    with pytest.raises(ValueError, match="shape"):
        K.set_value(v, np.ones(3))
    assert K.dtype(K.variable(1, dtype="float64")) == "float64"


def test_zeros_ones_and_eye_are_variables_unless_the_shape_is_unknown():
    z, o, e = K.zeros((2, 3)), K.ones((2,), dtype="int32"), K.eye(3)
    assert all(isinstance(t, mg.SharedVariable) for t in (z, o, e))
    assert K.get_value(z).sum() == 0 and K.get_value(o).dtype == np.int32
    np.testing.assert_array_equal(K.eval(e), np.eye(3))
    n = K.placeholder(shape=(), dtype="int64")
    dynamic = K.zeros((n, 2))
    assert not isinstance(dynamic, mg.Variable)
    assert run(dynamic, {n: 3}).shape == (3, 2)
    c = K.constant(2, shape=(2,))
    assert K.dtype(c) == "float32" and K.eval(c).tolist() == [2, 2]
    assert K.eval(K.ones_like(c)).tolist() == [1, 1] and K.eval(K.zeros_like(c)).sum() == 0


@pytest.mark.parametrize("xs, ys", [((4, 3), (3, 5)), ((2, 4, 3), (3, 5)),
                                    ((2, 3, 4), (5, 4, 6)), ((3,), (3, 2)), ((2, 3), (3,))])
def test_dot_follows_numpy_dot(xs, ys):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=xs), rng.normal(size=ys)
    np.testing.assert_allclose(K.eval(K.dot(K.constant(a), K.constant(b))), np.dot(a, b),
                               rtol=1e-5, atol=1e-5)


def test_dot_of_a_batch_with_unknown_size_and_a_matrix():
    x = K.placeholder(shape=(None, 4, 3))
    w = K.variable(np.arange(6).reshape(3, 2))
    y = K.dot(x, w)
    assert K.int_shape(y) == (None, 4, 2)
    data = np.ones((5, 4, 3))
    np.testing.assert_allclose(K.function([x], [y])([data])[0], np.dot(data, K.get_value(w)))


def _batch_dot_reference(x, y, a, b):
    """Per batch row: tensordot over one axis, as Keras describes it."""
    return np.stack([np.tensordot(xi, yi, (a - 1, b - 1)) for xi, yi in zip(x, y)])


@pytest.mark.parametrize("xs, ys, axes", [((2, 2), (2, 2), 1), ((32, 20, 1), (32, 30, 20), (1, 2)),
                                          ((4, 3, 5), (4, 5, 2), None), ((4, 3), (4, 5, 3), (1, 2)),
                                          ((2, 3, 4, 5), (2, 5, 6), (-1, 1))])
def test_batch_dot_contracts_one_axis_per_batch_row(xs, ys, axes):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=xs), rng.normal(size=ys)
    out = K.eval(K.batch_dot(K.constant(x), K.constant(y), axes))
    if axes is None:
        axes = (len(xs) - 1, len(ys) - 2)
    a, b = (axes, axes) if isinstance(axes, int) else axes
    expected = _batch_dot_reference(x, y, a % len(xs), b % len(ys))
    if expected.ndim == 1:
        expected = expected[:, None]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_batch_dot_keeps_the_docs_example_and_rejects_the_batch_axis():
    x = K.constant([[1, 2], [3, 4]])
    assert K.eval(K.batch_dot(x, K.constant([[5, 6], [7, 8]]), axes=1)).tolist() == [[17], [53]]
    p = K.placeholder(shape=(None, 20, 1))
    assert K.int_shape(K.batch_dot(p, K.placeholder((None, 30, 20)), (1, 2))) == (None, 1, 30)
    with pytest.raises(ValueError, match="batch axis"):
        K.batch_dot(x, x, axes=0)


def test_reductions_take_axis_and_keepdims():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = K.constant(data)
    for fn, ref in [(K.sum, np.sum), (K.mean, np.mean), (K.max, np.max), (K.min, np.min),
                    (K.prod, np.prod), (K.var, np.var), (K.std, np.std)]:
        np.testing.assert_allclose(K.eval(fn(x)), ref(data), rtol=1e-5)
        np.testing.assert_allclose(K.eval(fn(x, axis=1, keepdims=True)),
                                   ref(data, axis=1, keepdims=True), rtol=1e-5)
    assert K.eval(K.argmax(x)).tolist() == np.argmax(data, -1).tolist()
    assert K.int_shape(K.transpose(x)) == (4, 3, 2)


def test_elementwise_functions_and_activations():
    data = np.array([-2.0, -0.5, 0.5, 3.0, 8.0], np.float32)
    x = K.constant(data)
    for fn, ref in [(K.abs, np.abs), (K.square, np.square), (K.exp, np.exp),
                    (K.tanh, np.tanh), (K.sigmoid, lambda v: 1 / (1 + np.exp(-v)))]:
        np.testing.assert_allclose(K.eval(fn(x)), ref(data), rtol=1e-5)
    np.testing.assert_allclose(K.eval(K.log(K.abs(x))), np.log(np.abs(data)), rtol=1e-5)
    assert K.eval(K.sqrt(K.constant([-1e-9, 4.0]))).tolist() == [0, 2]  # clipped at 0
    np.testing.assert_allclose(K.eval(K.relu(x)), np.maximum(data, 0))
    np.testing.assert_allclose(K.eval(K.relu(x, alpha=0.1)), np.where(data > 0, data, 0.1 * data))
    np.testing.assert_allclose(K.eval(K.relu(x, max_value=6)), np.clip(data, 0, 6))
    np.testing.assert_allclose(K.eval(K.relu(x, alpha=0.1, max_value=2.5)),
                               np.where(data > 0, np.minimum(data, 2.5), 0.1 * data))
    np.testing.assert_allclose(K.eval(K.relu(x, threshold=1.0)), np.where(data > 1, data, 0))
    np.testing.assert_allclose(K.eval(K.clip(x, 0.0, 1.0)), np.clip(data, 0, 1))
    np.testing.assert_allclose(K.eval(K.elu(x, 0.5)),
                               np.where(data > 0, data, 0.5 * np.expm1(data)), rtol=1e-5)


def test_softmax_and_cross_entropies_match_keras_formulas():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4, 5))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    target = np.eye(5)[[0, 3, 1, 4]]
    np.testing.assert_allclose(K.eval(K.softmax(K.constant(logits))), probs, rtol=1e-5)
    expected = -(target * np.log(probs)).sum(-1)
    for output, from_logits in [(probs, False), (logits, True), (3 * probs, False)]:
        loss = K.categorical_crossentropy(K.constant(target), K.constant(output), from_logits)
        np.testing.assert_allclose(K.eval(loss), expected, rtol=1e-4)
    sparse = K.sparse_categorical_crossentropy(K.constant([[0], [3], [1], [4]], "int64"),
                                               K.constant(probs))
    np.testing.assert_allclose(K.eval(sparse), expected, rtol=1e-4)
    p, t = 1 / (1 + np.exp(-logits)), (logits > 0.3).astype(float)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(K.eval(K.binary_crossentropy(K.constant(t), K.constant(p))), bce,
                               rtol=1e-4)


def test_shape_helpers():
    x = K.placeholder((None, 2, 3))
    assert K.int_shape(K.concatenate([x, x])) == (None, 2, 6)
    assert K.int_shape(K.concatenate([x, x], axis=0)) == (None, 2, 3)
    assert K.int_shape(K.reshape(x, (-1, 6))) == (None, 6)
    assert K.int_shape(K.batch_flatten(x)) == (None, 6)
    assert K.dtype(K.cast(x, "float64")) == "float64"
    assert K.int_shape(np.zeros((2, 5))) == (2, 5)
    assert K.int_shape(K.expand_dims(x)) == (None, 2, 3, 1)
    assert K.int_shape(K.squeeze(K.expand_dims(x, 1), 1)) == (None, 2, 3)


def test_gradients_and_a_training_function_with_updates():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(16, 3)).astype(np.float32)
    target = data @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    x, y = K.placeholder((None, 3)), K.placeholder((None, 1))
    w = K.zeros((3, 1), name="w")
    loss = K.mean(K.square(K.dot(x, w) - y))
    (grad,) = K.gradients(loss, [w])
    step = K.function([x, y], [loss, grad], updates=[(w, w - 0.1 * grad)])
    losses = [step([data, target])[0] for _ in range(200)]
    assert losses[-1] < 1e-4 < losses[0]
    first = 2 * data.T @ (-target) / len(data)
    w2 = K.variable(np.zeros((3, 1)))
    loss2 = K.mean(K.square(K.dot(x, w2) - y))
    g2 = K.gradients(loss2, [w2])[0]
    value, = K.function([x, y], [g2], updates=[K.update_sub(w2, 0.5 * g2)])([data, target])
    np.testing.assert_allclose(value, first, rtol=1e-5)  # outputs see the pre-update value
    np.testing.assert_allclose(K.get_value(w2), -0.5 * first, rtol=1e-5)


def test_function_calling_conventions():
    x = K.placeholder((2,))
    single = K.function([x], x * 2.0)
    np.testing.assert_array_equal(single([np.ones(2)]), [2, 2])
    with pytest.raises(TypeError, match="list or tuple"):
        single(np.ones(2))
    with pytest.raises(ValueError, match="1 input values, got 2"):
        single([np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="Invalid argument"):
        K.function([x], [x], bogus=1)
    with pytest.raises(TypeError, match="list or tuple"):
        K.function(x, [x])


def test_learning_phase_defaults_to_test_and_can_be_fed_or_fixed():
    x = K.placeholder((3,))
    y = K.in_train_phase(x * 10.0, x)
    assert K.learning_phase() is K.learning_phase() and K.dtype(K.learning_phase()) == "bool"
    f = K.function([x, K.learning_phase()], [y])
    assert f([np.ones(3), 1])[0].tolist() == [10, 10, 10]
    assert f([np.ones(3), 0])[0].tolist() == [1, 1, 1]
    assert K.function([x], [y])([np.ones(3)])[0].tolist() == [1, 1, 1]
    assert K.eval(K.in_test_phase(K.constant(1.0), K.constant(2.0))) == 1.0
    K.set_learning_phase(1)
    assert K.learning_phase() == 1
    assert K.in_train_phase(x * 10.0, x).node.op == "multiply"
    with pytest.raises(ValueError, match="0 or 1"):
        K.set_learning_phase(2)


def test_sessions_initialize_tf_variables_and_clear_session_starts_afresh():
    v = mg.Variable(np.float32(3.0), name="tf_var")
    assert K.get_value(v) == 3.0  # get_session() ran its initializer, as Keras does
    K.set_value(v, 5.0)
    assert K.eval(v * 2.0) == 10.0
    sess = mg.Session()
    K.set_session(sess)
    assert K.get_session() is sess and K.get_value(v) == 3.0
    with mg.Session() as other:
        assert K.get_session() is other
    graph = mg.get_default_graph()
    K.clear_session()
    assert mg.get_default_graph() is not graph and K.get_session() is not sess


def test_settings():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32" and K.backend() == "minigraph"
    assert K.image_data_format() == "channels_last"
    K.set_epsilon(1e-5)
    K.set_floatx("float64")
    K.set_image_data_format("channels_first")
    assert (K.epsilon(), K.floatx(), K.image_data_format()) == (1e-5, "float64", "channels_first")
    assert K.dtype(K.variable(1.0)) == "float64" and mg.constant(1.5).dtype == mg.float64
    with pytest.raises(ValueError, match="floatX"):
        K.set_floatx("int32")
    with pytest.raises(ValueError, match="epsilon"):
        K.set_epsilon(-1)
    with pytest.raises(ValueError, match="image_data_format"):
        K.set_image_data_format("nhwc")


# -- weights files ---------------------------------------------------------------------------


def _model_variables():
    with mg.name_scope("dense"):
        kernel = K.variable(np.arange(6).reshape(2, 3), name="kernel")
        bias = K.variable(np.zeros(3), dtype="float64", name="bias")
    step = K.variable(7, dtype="int64", name="file")  # a name np.savez would choke on
    return [kernel, bias, step]


def test_weights_round_trip_through_npz_with_a_json_description(tmp_path):
    variables = _model_variables()
    path = tmp_path / "model.npz"
    K.save_weights(path, variables)
    meta = __import__("json").loads((tmp_path / "model.json").read_text())
    assert meta["format"] == "minigraph-weights" and meta["weights"][0] == {
        "name": "dense/kernel", "shape": [2, 3], "dtype": "float32"}
    assert sorted(np.load(path).files) == ["dense/bias", "dense/kernel", "file"]
    saved = K.batch_get_value(variables)
    for v in variables:
        K.set_value(v, np.zeros(K.int_shape(v)))
    K.load_weights(path, variables)
    for value, v in zip(saved, variables):
        np.testing.assert_array_equal(K.get_value(v), value)


def test_weights_default_to_the_graphs_variables_including_tf_variables(tmp_path):
    v = mg.Variable(np.ones(2, np.float32), name="tf_var")
    shared = K.variable([1.0, 2.0], name="shared")
    K.save_weights(tmp_path / "all.npz")
    K.set_value(v, [5.0, 5.0])
    K.set_value(shared, [0.0, 0.0])
    K.load_weights(tmp_path / "all.npz")
    assert K.get_value(v).tolist() == [1, 1] and K.get_value(shared).tolist() == [1, 2]


def test_loading_checks_names_shapes_and_dtypes_before_writing_anything(tmp_path):
    kernel, bias, step = _model_variables()
    path = tmp_path / "w.npz"
    K.save_weights(path, [kernel, bias])
    K.set_value(kernel, np.full((2, 3), 9.0))
    with pytest.raises(ValueError, match=r"missing \['file'\]"):
        K.load_weights(path, [kernel, bias, step])
    with pytest.raises(ValueError, match=r"unexpected \['dense/bias'\]"):
        K.load_weights(path, [kernel])
    assert K.get_value(kernel)[0, 0] == 9.0  # nothing was written
    K.load_weights(path, [kernel], strict=False)
    assert K.get_value(kernel)[0, 0] == 0.0
    mg.reset_default_graph()
    with mg.name_scope("dense"):
        wide = K.variable(np.zeros((2, 4)), name="kernel")
        bias32 = K.variable(np.zeros(3), name="bias")
    with pytest.raises(ValueError, match=r"'dense/kernel' has shape \(2, 3\), but the variable "
                                         r"has shape \(2, 4\)"):
        K.load_weights(path, [wide], strict=False)
    with pytest.raises(TypeError, match="'dense/bias' is float64, but the variable is float32"):
        K.load_weights(path, [bias32], strict=False)


def test_weights_file_errors_are_clear(tmp_path, monkeypatch):
    variables = _model_variables()
    with pytest.raises(ValueError, match=r"use a \.npz path"):
        K.save_weights(tmp_path / "w.pkl", variables)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        K.load_weights(tmp_path / "nothing.npz", variables)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        K.load_weights(tmp_path / "junk.npz", variables)
    K.save_weights(tmp_path / "a.npz", variables)
    K.save_weights(tmp_path / "b.npz", variables[:2])
    (tmp_path / "b.json").replace(tmp_path / "a.json")
    with pytest.raises(ValueError, match=r"disagree about \['file'\]"):
        K.load_weights(tmp_path / "a.npz", variables)
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)
    with pytest.raises(ImportError, match=r"h5py .*pip install h5py"):
        K.save_weights(tmp_path / "w.h5", variables)
    assert not (tmp_path / "w.h5").exists()


def test_weights_round_trip_through_h5(tmp_path):
    pytest.importorskip("h5py")
    variables = _model_variables()
    K.save_weights(tmp_path / "w.h5", variables)
    saved = K.batch_get_value(variables)
    for v in variables:
        K.set_value(v, np.ones(K.int_shape(v)))
    K.load_weights(tmp_path / "w.h5", variables)
    for value, v in zip(saved, variables):
        np.testing.assert_array_equal(K.get_value(v), value)
    assert (tmp_path / "w.json").exists()


def test_function_updates_may_be_ops_such_as_an_optimizer_step():
    x = K.placeholder((None, 2))
    w = K.variable([[1.0], [1.0]])
    loss = K.mean(K.square(K.dot(x, w)))
    train = mg.train.GradientDescentOptimizer(0.1).minimize(loss)
    step = K.function([x], [loss], updates=[train, K.update_add(K.variable(0.0, name="n"), 1.0)])
    data = np.ones((4, 2))
    first = step([data])[0]
    assert step([data])[0] < first == 4.0
    with mg.Session() as sess:  # a default session is the one K uses
        assert K.get_session() is sess and step([data])[0] < first


def test_batch_dot_with_a_batch_of_unknown_size():
    x, y = K.placeholder((None, 3, 4)), K.placeholder((None, 4))
    out = K.function([x, y], [K.batch_dot(x, y, (2, 1))])
    a, b = np.ones((5, 3, 4)), np.arange(20.0).reshape(5, 4)
    np.testing.assert_allclose(out([a, b])[0], np.einsum("bij,bj->bi", a, b))


def test_architecture_as_json_and_weights_rebuild_a_model_in_a_fresh_graph(tmp_path):
    import json as json_module

    import minigraph as mg
    from minigraph import backend as K

    K.clear_session()
    x = mg.placeholder(mg.float32, [None, 3], name="x")
    y = mg.layers.dense(x, 2, activation=mg.nn.tanh, name="out")
    value = np.ones((1, 3), np.float32)
    expected = K.get_session().run(y, {x: value})
    architecture = K.model_to_json()
    K.save_weights(str(tmp_path / "w.npz"))
    assert json_module.loads(architecture)["format"] == "minigraph-graph"
    K.clear_session()  # a fresh default graph, as in another process
    K.model_from_json(architecture)
    K.load_weights(str(tmp_path / "w.npz"))
    graph = mg.get_default_graph()
    got = K.get_session().run(graph.get_tensor_by_name(y.name),
                              {graph.get_tensor_by_name("x:0"): value})
    np.testing.assert_allclose(got, expected)
    K.clear_session()
