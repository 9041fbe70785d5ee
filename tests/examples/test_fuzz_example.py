"""The custom-op fuzzing example is itself a passing pytest suite."""
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fuzz_custom_op.py"


def test_fuzz_custom_op_example_passes():
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(EXAMPLE)], capture_output=True, text=True, cwd=EXAMPLE.parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
