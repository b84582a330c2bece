"""examples/onnx_digits: the ANN training script rebuilds the shipped ONNX file byte for byte."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from conftest import EXAMPLES

pytestmark = pytest.mark.frameworks


def test_train_ann_reproduces_the_shipped_model(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sklearn")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "onnx_digits" / "train_ann.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "onnxruntime test accuracy 0.9849" in proc.stdout  # examples/onnx_digits/README.md
    made = (tmp_path / "digits_ann.onnx").read_bytes()
    shipped = (EXAMPLES / "onnx_digits" / "digits_ann.onnx").read_bytes()
    assert hashlib.sha256(made).hexdigest() == hashlib.sha256(shipped).hexdigest()
