"""The same seed and threads give the same model file as the CLI, byte for
byte, whichever way the ratings reach fit (a path, read_ratings, a pandas
DataFrame read by pandas itself)."""
import subprocess

import pandas as pd
import pytest

import factorlens as fl

CASES = [
    ("biased", None, 1, []),
    ("biased", None, 2, []),
    ("dot", "als", 2, ["--factors", "20"]),
    ("nn", None, 2, ["--epochs", "1", "--factors", "16"]),
]


def cli_params(extra):
    names = {"--factors": "factors", "--epochs": "epochs"}
    return {names[extra[k]]: int(extra[k + 1]) for k in range(0, len(extra), 2)}


@pytest.mark.parametrize("kind,solver,threads,extra", CASES)
def test_same_bytes_as_cli(tmp_path, ml100k, cli, kind, solver, threads, extra):
    base, test = f"{ml100k}/u1.base", f"{ml100k}/u1.test"
    out = tmp_path / "cli.flm"
    cmd = [cli, "train", "--ratings", base, "--test", test, "--model", kind, "--threads",
           str(threads), "--seed", "7", "--out", str(out), "--quiet"] + extra
    if solver:
        cmd += ["--solver", solver]
    subprocess.run(cmd, check=True, capture_output=True)
    want = out.read_bytes()
    kw = dict(model=kind, solver=solver, threads=threads, seed=7, **cli_params(extra))

    fl.fit(base, test=test, **kw).save(tmp_path / "path.flm")
    assert (tmp_path / "path.flm").read_bytes() == want

    fl.fit(fl.read_ratings(base), test=fl.read_ratings(test), **kw).save(tmp_path / "read.flm")
    assert (tmp_path / "read.flm").read_bytes() == want

    df = pd.read_csv(base, sep="\t", names=["u", "i", "r", "t"])
    m = fl.fit(df, user="u", item="i", rating="r", test=test, source=base, **kw)
    m.save(tmp_path / "pandas.flm")
    assert (tmp_path / "pandas.flm").read_bytes() == want


def test_loaded_cli_model_agrees(tmp_path, ml100k, cli):
    out = tmp_path / "m.flm"
    subprocess.run([cli, "train", "--ratings", f"{ml100k}/u1.base", "--out", str(out),
                    "--quiet", "--threads", "1"], check=True, capture_output=True)
    m = fl.load(out)
    got = subprocess.run([cli, "predict", str(out), "--user", "196", "--item", "242"],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert f"{m.predict('196', '242'):.2f}" == got
    top = subprocess.run([cli, "recommend", str(out), "--user", "196", "-n", "5", "--json"],
                         check=True, capture_output=True, text=True).stdout
    for item, _ in m.recommend("196", 5):
        assert f'"{item}"' in top
