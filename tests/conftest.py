"""Fixtures: a small untrained model with a valid card (fast, any machine) and the shared data.

Markers (registered in pyproject.toml):
- `keras`: the test needs TensorFlow and Keras, or another package only the dev extra brings (tf2onnx,
  scikit-learn, scikit-image).
  Every test that uses one of KERAS_FIXTURES is marked here, so a test module marks only what it builds
  with Keras itself; `pytest -m "not keras"` runs the rest on the base install (no TensorFlow), and
  without TensorFlow a marked test that was not deselected is skipped rather than failing.
- `training`: trains a model end to end (minutes); `pytest -m "not training"` is the fast run.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.helpers import ORIGINALS, save_model_with_card  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Fixtures that build or export a Keras model: every test that reaches one of them needs TensorFlow.
KERAS_FIXTURES = frozenset({"test_model_path", "test_screener", "small_onnx_model"})
TENSORFLOW = all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "keras", "tf2onnx", "sklearn", "skimage"))
# Modules that import TensorFlow, Keras or the training extra themselves (all their tests are marked `keras`):
# without those packages they are not even imported.
collect_ignore = [] if TENSORFLOW else ["test_export.py", "test_gradcam.py", "test_splits_and_calibration.py",
                                         "test_training_smoke.py", "test_training_distributed.py", "test_training_data.py"]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so the marks added here count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if KERAS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.keras)
        if not TENSORFLOW and item.get_closest_marker("keras") is not None:
            item.add_marker(pytest.mark.skip(reason="needs TensorFlow, Keras and the dev extra: pip install -e '.[dev]'"))


@pytest.fixture(scope="session")
def test_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product's architecture with random weights (no download), saved with a model card."""
    from model_training.architecture import build_model

    return save_model_with_card(build_model(None), tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def test_screener(test_model_path: Path):
    from app.core.screening import Screener

    return Screener(test_model_path)


@pytest.fixture(scope="session")
def real_model_path() -> Path:
    from app.core.resources import default_model_path

    path = default_model_path()
    if not path.exists():
        pytest.skip("the bundled model is not in resources/ yet")
    return path


@pytest.fixture(scope="session")
def real_screener(real_model_path: Path):
    from app.core.screening import Screener

    return Screener(real_model_path)


@pytest.fixture(scope="session")
def originals_dir() -> Path:
    if not ORIGINALS.is_dir():
        pytest.skip(f"shared data not found at {ORIGINALS}")
    return ORIGINALS


@pytest.fixture(scope="session")
def small_onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny network exported to ONNX: Dask workers and decode processes load it in milliseconds, without TensorFlow."""
    from model_training.export import export_onnx
    from tests.test_export import saved, small_model

    path = saved(small_model(), tmp_path_factory.mktemp("small_onnx"))
    export_onnx(path)
    return path.with_suffix(".onnx")


@pytest.fixture()
def sample_folder(tmp_path: Path) -> Path:
    """Twelve copies of the bundled samples under other names and one broken file: a small folder to scan."""
    folder = tmp_path / "xrays"
    folder.mkdir()
    samples = sorted((REPO / "assets" / "samples").glob("*.jpeg"))
    for i in range(12):
        (folder / f"{i:02d}_{samples[i % len(samples)].name}").write_bytes(samples[i % len(samples)].read_bytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return folder
