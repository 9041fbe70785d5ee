"""Saver: checkpoint round trips, rotation, the checkpoint index, safe restores and saves."""
import os

import numpy as np
import pytest

import minigraph as mg
from minigraph import train
from minigraph.errors import FailedPreconditionError

W = np.arange(6, dtype=np.float32).reshape(3, 2) / 7
B = np.array([0.25, -1.5], dtype=np.float64)


def build(w_shape=(3, 2), b_dtype=np.float64):
    """The model: a float32 matrix, a bias, a global step and a training op changing all."""
    w = mg.Variable(np.zeros(w_shape, np.float32), name="dense/w")
    b = mg.Variable(np.zeros(2, b_dtype), name="dense/b")
    step = train.get_or_create_global_step()
    update = mg.group(w.assign_add(np.ones(w_shape, np.float32)), b.assign_sub(np.ones(2)),
                      step.assign_add(1))
    return w, b, step, update


def initialized_session(values=(W, B)):
    w, b, _, _ = build()
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    w.load(values[0], sess)
    b.load(values[1], sess)
    return sess


def values(sess):
    return sess.run(mg.global_variables())


def assert_same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_round_trip_into_new_session_and_fresh_graph(tmp_path):
    sess = initialized_session()
    sess.run("group_deps")
    saved = values(sess)
    prefix = train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert prefix == str(tmp_path / "model.ckpt")
    fresh_session = mg.Session()
    train.Saver().restore(fresh_session, prefix)
    assert_same(values(fresh_session), saved)
    mg.reset_default_graph()
    build()
    with mg.Session() as sess2:
        train.Saver().restore(sess2, prefix)
        assert_same(values(sess2), saved)
        sess2.run("group_deps")  # restored values are ordinary session state afterwards
        assert values(sess2)[2] == saved[2] + 1


def test_checkpoint_files_and_contents(tmp_path):
    sess = initialized_session()
    prefix = train.Saver().save(sess, str(tmp_path / "model"), global_step=7)
    assert prefix == str(tmp_path / "model-7")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model-7.meta.json", "model-7.npz"]
    with np.load(prefix + ".npz") as data:
        assert sorted(data.files) == ["dense/b", "dense/w", "global_step"]
        np.testing.assert_array_equal(data["dense/w"], W)
        assert data["global_step"].dtype == np.int64
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "model-7"\nall_model_checkpoint_paths: "model-7"\n')


def test_max_to_keep_rotation_and_checkpoint_state(tmp_path):
    sess = initialized_session()
    saver = train.Saver(max_to_keep=2)
    for step in range(5):
        saver.save(sess, str(tmp_path / "model"), global_step=step)
    assert saver.last_checkpoints == [str(tmp_path / "model-3"), str(tmp_path / "model-4")]
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".npz")) == [
        "model-3.npz", "model-4.npz"]
    assert not any(f.startswith("model-2") for f in os.listdir(tmp_path))
    state = train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "model-4")
    assert state.all_model_checkpoint_paths == saver.last_checkpoints
    assert train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-4")


def test_keep_all_and_custom_state_file(tmp_path):
    sess = initialized_session()
    saver = train.Saver(max_to_keep=None, pad_step_number=True)
    for step in range(3):
        saver.save(sess, str(tmp_path / "m"), global_step=step, latest_filename="state",
                   write_meta_graph=False)
    assert sorted(os.listdir(tmp_path)) == ["m-00000000.npz", "m-00000001.npz",
                                            "m-00000002.npz", "state"]
    assert train.latest_checkpoint(str(tmp_path)) is None  # no 'checkpoint' file
    assert train.get_checkpoint_state(str(tmp_path)) is None
    assert train.latest_checkpoint(str(tmp_path), "state") == str(tmp_path / "m-00000002")


def test_global_step_variable_names_the_checkpoint(tmp_path):
    sess = initialized_session()
    for _ in range(3):
        sess.run("group_deps")
    prefix = train.Saver().save(sess, str(tmp_path / "m"), global_step=train.get_global_step())
    assert prefix == str(tmp_path / "m-3")


def test_var_list_dict_restores_under_other_names(tmp_path):
    sess = initialized_session()
    w = mg.get_default_graph().get_tensor_by_name("dense/w:0")
    prefix = train.Saver({"weights": w}).save(sess, str(tmp_path / "m"))
    mg.reset_default_graph()
    other = mg.Variable(np.zeros((3, 2), np.float32), name="renamed")
    with mg.Session() as sess2:
        train.Saver({"weights": other}).restore(sess2, prefix)
        np.testing.assert_array_equal(sess2.run(other), W)


def test_explicit_var_list_may_restore_a_subset(tmp_path):
    sess = initialized_session()
    prefix = train.Saver().save(sess, str(tmp_path / "m"))
    mg.reset_default_graph()
    w, b, _, _ = build()
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        train.Saver([w]).restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(w), W)
        np.testing.assert_array_equal(sess.run(b), np.zeros(2))


@pytest.mark.parametrize("change, message", [
    ({"w_shape": (2, 3)}, r"'dense/w'.*graph has \(2, 3\) float32.*has \(3, 2\) float32"),
    ({"b_dtype": np.float32}, r"'dense/b'.*graph has \(2,\) float32.*has \(2,\) float64"),
])
def test_restore_into_mismatched_graph_fails_and_changes_nothing(tmp_path, change, message):
    sess = initialized_session()
    prefix = train.Saver().save(sess, str(tmp_path / "m"))
    mg.reset_default_graph()
    build(**change)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        before = values(sess)
        with pytest.raises(ValueError, match=message) as err:
            train.Saver().restore(sess, prefix)
        assert str(tmp_path / "m.npz") in str(err.value)
        assert_same(values(sess), before)


def test_restore_names_missing_and_extra_variables(tmp_path):
    sess = initialized_session()
    prefix = train.Saver().save(sess, str(tmp_path / "m"))
    mg.reset_default_graph()
    build()
    mg.Variable(1.0, name="extra")
    with mg.Session() as sess:
        with pytest.raises(ValueError, match="'extra' is not in checkpoint"):
            train.Saver().restore(sess, prefix)
    mg.reset_default_graph()
    mg.Variable(np.zeros((3, 2), np.float32), name="dense/w")
    with mg.Session() as sess, pytest.raises(ValueError, match="graph lacks.*dense/b"):
        train.Saver().restore(sess, prefix)
    with pytest.raises(ValueError, match="not a valid checkpoint"):
        train.Saver().restore(mg.Session(), str(tmp_path / "missing"))


class Crash(Exception):
    pass


def _crash_on_call(real, number):
    calls = []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise Crash("power cut")
        return real(*args, **kwargs)
    return crashing


# write_array crashes on the second variable (a half-written archive), os.replace on the first
# rename (the data file's)
@pytest.mark.parametrize("target, number", [("write_array", 2), ("replace", 1)])
def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch, target, number):
    sess = initialized_session()
    saver = train.Saver()
    first = saver.save(sess, str(tmp_path / "m"), global_step=1)
    overwritten = saver.save(sess, str(tmp_path / "plain"), write_meta_graph=False)
    saved = values(sess)
    sess.run("group_deps")
    module = np.lib.format if target == "write_array" else os
    monkeypatch.setattr(module, target, _crash_on_call(getattr(module, target), number))
    with pytest.raises(Crash):
        saver.save(sess, str(tmp_path / "m"), global_step=2)
    monkeypatch.undo()
    monkeypatch.setattr(module, target, _crash_on_call(getattr(module, target), number))
    with pytest.raises(Crash):
        saver.save(sess, str(tmp_path / "plain"), write_meta_graph=False)
    monkeypatch.undo()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert not (tmp_path / "m-2.npz").exists()
    assert saver.last_checkpoints[-1] == overwritten
    assert train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == [
        first, overwritten]
    for prefix in (first, overwritten):
        check = mg.Session()
        saver.restore(check, prefix)
        assert_same(values(check), saved)


def test_save_errors(tmp_path):
    w, *_ = build()
    with pytest.raises(FailedPreconditionError, match="uninitialized"):
        train.Saver().save(mg.Session(), str(tmp_path / "m"))
    with pytest.raises(ValueError, match="doesn't exist"):
        train.Saver().save(mg.Session(), str(tmp_path / "no" / "m"))
    with pytest.raises(TypeError, match="not a variable"):
        train.Saver([w + 1])
    mg.reset_default_graph()
    with pytest.raises(ValueError, match="No variables"):
        train.Saver()
    assert train.Saver(allow_empty=True).last_checkpoints == []


def test_meta_graph_rebuilds_graph_and_saver(tmp_path):
    sess = initialized_session()
    prefix = train.Saver().save(sess, str(tmp_path / "m"))
    saved = values(sess)
    mg.reset_default_graph()
    saver = train.import_meta_graph(prefix + ".meta.json", import_scope="restored")
    with mg.Session() as sess2:
        saver.restore(sess2, prefix)
        assert [v.name for v in mg.global_variables()] == [
            "restored/dense/w:0", "restored/dense/b:0", "restored/global_step:0"]
        assert_same(values(sess2), saved)
        sess2.run("restored/group_deps")
        assert values(sess2)[2] == saved[2] + 1


def test_shared_variables_restore_into_their_container(tmp_path):
    shared = mg.shared(np.arange(3.0), name="theano_w")
    sess = mg.Session()
    prefix = train.Saver().save(sess, str(tmp_path / "m"), write_meta_graph=False)
    shared.set_value(np.zeros(3))
    train.Saver().restore(sess, prefix)
    np.testing.assert_array_equal(shared.get_value(), np.arange(3.0))


def test_unexportable_graph_saves_without_meta_graph(tmp_path):
    sess = initialized_session()
    mg.custom_gradient(lambda v: (mg.identity(v), lambda dy: dy))(mg.placeholder(mg.float64, (4,)))
    with pytest.warns(UserWarning, match="no meta graph.*custom_gradient"):
        prefix = train.Saver().save(sess, str(tmp_path / "m"))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m.npz"]
    assert train.latest_checkpoint(str(tmp_path)) == prefix
