"""Every error class: KeyError for unknown ids, ValueError/TypeError for bad
input, OSError (and its ModelFileError) for files, KeyboardInterrupt on
Ctrl-C, DivergedError for a blown-up training."""
import os
import signal
import threading
import time

import pytest

import factorlens as fl


def test_unknown_ids_are_key_errors(small_model):
    m = small_model
    with pytest.raises(KeyError):
        m.predict("nobody", m.item_ids[0])
    with pytest.raises(KeyError):
        m.predict(m.user_ids[0], "nothing")
    with pytest.raises(KeyError):
        m.recommend("nobody")
    with pytest.raises(KeyError):
        m.similar("nothing")
    with pytest.raises(KeyError):
        m.fold_in(["nothing"], [4])
    with pytest.raises(KeyError):
        m.evaluate({"user": ["nobody"], "item": [m.item_ids[0]], "rating": [3.0]},
                   unknown="error")


def test_bad_input_is_value_or_type_error(small, small_model):
    with pytest.raises(ValueError):
        fl.fit(small, factors=0)
    with pytest.raises(ValueError):
        fl.fit(small, model="svd")
    with pytest.raises(ValueError):
        fl.fit(small, model="nn", solver="sgd")
    with pytest.raises(TypeError):
        fl.fit(small, factorz=5)
    with pytest.raises(TypeError):
        fl.fit(small, epochs=2.5)
    with pytest.raises(ValueError):
        fl.fit({"user": ["a"], "item": ["b"]})
    with pytest.raises(ValueError):
        fl.fit({"user": ["a", "a"], "item": ["b", "b"], "rating": [1, 2]})
    with pytest.raises(ValueError):
        fl.fit({"user": ["a"], "item": ["b"], "rating": [float("nan")]})
    with pytest.raises(ValueError):
        fl.fit({"user": ["a\nb"], "item": ["b"], "rating": [1.0]})
    with pytest.raises(TypeError):
        fl.fit({"user": [1.5], "item": ["b"], "rating": [1.0]})
    with pytest.raises(TypeError):
        fl.fit([1, 2, 3])
    with pytest.raises(ValueError):
        small_model.predict(["a", "b"], ["c", "d", "e"])
    with pytest.raises(ValueError):
        small_model.predict("a", "b", unknown="guess")
    with pytest.raises(ValueError):
        small_model.fold_in(list(small_model.item_ids[:2]), [1.0])
    with pytest.raises(ValueError):
        small_model.recommend(small_model.user_ids[0], n=-1)


def test_bad_file_data_is_value_error(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("1\t2\t4\n1\tx\n")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        fl.read_ratings(p)


def test_files_are_os_errors(tmp_path, small_model):
    with pytest.raises(FileNotFoundError):
        fl.load(tmp_path / "missing.flm")
    with pytest.raises(FileNotFoundError):
        fl.read_ratings(tmp_path / "missing.tsv")
    with pytest.raises(OSError):
        small_model.save(tmp_path / "no" / "such" / "dir.flm")
    bad = tmp_path / "corrupt.flm"
    small_model.save(bad)
    b = bytearray(bad.read_bytes())
    b[-1] ^= 1
    bad.write_bytes(bytes(b))
    with pytest.raises(fl.ModelFileError, match="checksum"):
        fl.load(bad)
    assert issubclass(fl.ModelFileError, OSError)
    with pytest.raises(OSError):
        fl.load(tmp_path)  # a directory


def test_divergence(small):
    with pytest.raises(fl.DivergedError):
        fl.fit(small, lr=1e6, epochs=3, threads=1)


def test_ctrl_c_cancels_training_and_releases_the_gil(ml100k):
    counted = []
    done = threading.Event()

    def other_thread():
        n = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.5:  # Python work while the library trains
            n += 1
        counted.append(n)
        os.kill(os.getpid(), signal.SIGINT)
        done.set()

    t = threading.Thread(target=other_thread)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        t.start()
        fl.fit(f"{ml100k}/u1.base", epochs=100000, threads=1)
    elapsed = time.monotonic() - t0
    t.join()
    assert done.is_set() and counted[0] > 1000
    assert elapsed < 30  # cancelled, not run to the end (100000 epochs take minutes)
    # Training works again afterwards.
    assert fl.fit(f"{ml100k}/u1.base", epochs=1, threads=1).info["epochs_run"] == 1


def test_on_epoch_exception_propagates(small):
    def boom(r):
        raise RuntimeError("stop here")
    with pytest.raises(RuntimeError, match="stop here"):
        fl.fit(small, epochs=3, threads=1, on_epoch=boom)
