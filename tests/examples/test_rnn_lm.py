"""examples/rnn_lm.py: the tutorial's checks -- the untrained loss is log(vocabulary) -- and a
quick run of each cell lowers the loss and generates sentences."""
import math

import pytest

from tests.examples._demos import help_text, require_examples_extra, run_demo, summary_line


def test_help_lists_the_cells():
    require_examples_extra()
    assert "rnn,lstm,gru" in help_text("rnn_lm").replace(" ", "").replace("{", ",")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_quick_run_learns_and_generates(tmp_path, cell):
    require_examples_extra()
    stdout, summary = run_demo("rnn_lm", tmp_path, "--quick", "--no-progress", "--cell", cell)
    summary_line(stdout, "rnn_lm")
    assert abs(summary["initial_loss"] - math.log(300)) < 0.05, summary
    assert summary["final_loss"] < summary["initial_loss"] - 0.5, summary
    assert stdout.count("generated:") == 5
    assert (tmp_path / "loss.png").stat().st_size > 0


def test_truncated_bptt_and_a_text_corpus(tmp_path):
    require_examples_extra()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat. The dog sat on the log. " * 40, encoding="utf-8")
    _, summary = run_demo("rnn_lm", tmp_path, "--corpus", str(corpus), "--bptt", "3",
                          "--epochs", "3", "--hidden", "8", "--no-progress", "--generate", "1")
    assert summary["final_loss"] < summary["initial_loss"]
