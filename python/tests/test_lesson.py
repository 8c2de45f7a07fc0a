"""examples/lesson.py runs end to end and tells the lesson's story."""
import os
import subprocess
import sys
from pathlib import Path

LESSON = Path(__file__).resolve().parents[2] / "examples" / "lesson.py"


def test_lesson_runs(ml100k):
    env = dict(os.environ, FACTORLENS_DATA=os.path.dirname(ml100k))
    out = subprocess.run([sys.executable, str(LESSON)], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout
    assert "test: {'rmse': 0.9152" in out
    assert "highest item biases:  Wrong Trousers, The (1993)" in out
    assert "Casablanca (1942)" in out and "Return of the Jedi (1983)" in out
    assert out.rstrip().splitlines()[-1].strip()[:1].isdigit()  # a fold-in recommendation
