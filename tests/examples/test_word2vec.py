"""examples/word2vec.py: a quick run writes its outputs, and on a corpus with planted clusters
the learned nearest neighbours share their word's cluster."""
import numpy as np

from tests.examples._demos import help_text, require_examples_extra, run_demo, summary_line


def test_help_names_the_course_settings():
    require_examples_extra()
    text = help_text("word2vec")
    assert "--corpus" in text and "NCE" in text and "--quick" in text


def test_quick_run_saves_embeddings_vocabulary_and_curve(tmp_path):
    require_examples_extra()
    stdout, summary = run_demo("word2vec", tmp_path, "--quick", "--no-progress", "--embed", "128")
    summary_line(stdout, "word2vec")
    assert "words/s" in stdout
    vocab = (tmp_path / "vocab.txt").read_text().split()
    embeddings = np.load(tmp_path / "embeddings.npy")
    assert vocab[0] == "UNK" and embeddings.shape == (len(vocab), 128)
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert summary["steps"] == 300 and np.isfinite(summary["final_loss"])


def test_planted_clusters_become_nearest_neighbours(tmp_path):
    """A short run (small embedding, so the random initialisation fades fast) recovers the
    planted clusters: at least 90% of each word's 5 nearest neighbours share its cluster."""
    require_examples_extra()
    _, summary = run_demo("word2vec", tmp_path, "--quick", "--no-progress", "--embed", "16",
                          "--steps", "1500")
    assert summary["neighbour_precision"] >= 0.9, summary


def test_a_text_corpus_is_read_and_probed(tmp_path):
    require_examples_extra()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The king said unto the people: the king is good. " * 50, encoding="utf-8")
    stdout, summary = run_demo("word2vec", tmp_path, "--corpus", str(corpus), "--steps", "20",
                               "--no-progress", "--probes", "king,people")
    assert "  king: " in stdout and summary["vocab"] == 8  # UNK + 7 distinct words
