"""`calibrate`, `evaluate` and `--site` on the bundled model: a synthetic site recovers its calibration, the
refusals are one line with nothing written, and both evaluate commands agree.

The synthetic site is 200 validation films (resources/split_val.tsv) brightened with gamma 0.4, which
drops the bundled model's specificity and raises its ECE as another hospital's films do; 100 of them
calibrate, the other 100 measure.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.resources import default_model_path
from app.core.model.scope import SCOPES
from app.core.screening import Screener
from app.core.model.site import SiteCalibration
from tests.helpers import KERMANY, SHARED

REPO = Path(__file__).resolve().parents[1]
BLOCKED = ("tensorflow", "keras", "sklearn", "scipy", "matplotlib", "tf2onnx", "onnx")


def _validation(label: str, count: int, seed: int = 0) -> list[Path]:
    rows = [line.split("\t") for line in (REPO / "resources" / "split_val.tsv").read_text().splitlines() if line]
    paths = [SHARED / Path(path).relative_to("../shared") for name, _, path in rows if name == label]
    return [paths[i] for i in np.random.default_rng(seed).choice(len(paths), count, replace=False)]


def _noise(path: Path, seed: int) -> None:
    """Not a chest X-ray: the scope check leaves it out."""
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (300, 300), dtype=np.uint8))


@pytest.fixture(scope="module")
def site_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not KERMANY.is_dir():
        pytest.skip(f"shared data not found at {KERMANY}")
    root = tmp_path_factory.mktemp("site")
    for label in ("NORMAL", "PNEUMONIA"):
        for k, source in enumerate(_validation(label, 100)):
            folder = root / ("cal" if k < 50 else "held") / label
            folder.mkdir(parents=True, exist_ok=True)
            gray = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(folder / f"{source.stem}.png"), (255 * (gray / 255.0) ** 0.4).astype(np.uint8))
    _noise(root / "cal" / "NORMAL" / "noise_a.png", 1)
    _noise(root / "cal" / "NORMAL" / "noise_b.png", 2)
    (root / "cal" / "PNEUMONIA" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root / "cal", root / "held"


@pytest.fixture(scope="module")
def calibrated(site_folders: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site file `calibrate` writes for the calibration half, and what it said on stderr."""
    out = tmp_path_factory.mktemp("site_file") / "site.json"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["calibrate", str(site_folders[0]), "--out", str(out), "--name", "Gamma Hospital"])
    assert code == 1  # one file could not be read: it is left out, and the exit code says so
    return out, err.getvalue()


def _metrics(folder: Path, out: Path, *extra: str) -> dict:
    assert main(["evaluate", str(folder), "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_calibrate_leaves_out_what_it_cannot_use_and_says_so(calibrated: tuple[Path, str]) -> None:
    path, err = calibrated
    site = SiteCalibration.load(path, Screener().card.sha256)
    assert site.name == "Gamma Hospital"
    counts = site.counts
    assert counts["NORMAL"] + counts["PNEUMONIA"] + counts["left_out"] == 102 and counts["unreadable"] == 1
    assert "NORMAL/noise_a.png: not a chest X-ray" in err and "NORMAL/noise_b.png: not a chest X-ray" in err
    assert counts["left_out"] == sum(line.endswith(SCOPES[1:]) for line in err.splitlines()) >= 2  # each named
    assert f"{counts['left_out']} images outside the model's scope were left out" in err
    assert "PNEUMONIA/broken.jpg could not be read" in err
    assert site.figures["after"]["sensitivity"] >= 0.95  # the floor holds on the sample
    assert site.figures["after"]["ece"] < site.figures["before"]["ece"]


def test_site_calibration_recovers_ece_on_held_out_images(calibrated: tuple[Path, str], site_folders: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    site = SiteCalibration.load(calibrated[0])
    before = _metrics(site_folders[1], tmp_path / "before")
    after = _metrics(site_folders[1], tmp_path / "after", "--site", str(calibrated[0]))
    assert before["ece"] > 0.08  # the shift really spoils the model card's calibration ...
    assert after["ece"] < before["ece"] / 2  # ... and the site's, fitted on other films, repairs it
    assert after["threshold"] == pytest.approx(site.threshold, abs=1e-6) and after["site"]["sha256"] == site.sha256
    assert after["specificity"] > before["specificity"]
    lo, hi = after["ci95"]["ece"]
    assert lo <= after["ece"] <= hi
    with open(tmp_path / "after" / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == after["n"] + after["n_out_of_domain"]
    for name in ("roc.png", "reliability.png"):
        image = cv2.imread(str(tmp_path / "after" / name))
        red = (image[:, :, 2] > 180) & (image[:, :, 1] < 80) & (image[:, :, 0] < 80)
        assert image.shape == (640, 640, 3) and red.sum() > 20  # drawn, with the operating point marked


def test_predict_and_scan_use_the_site_probability_and_threshold(calibrated: tuple[Path, str], site_folders: tuple[Path, Path],
                                                                 tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = SiteCalibration.load(calibrated[0])
    images = sorted((site_folders[1] / "NORMAL").glob("*.png"))[:3]
    base = Screener()
    expected = {str(p): round(float(site.probabilities(base.predict_file(p).logit)), 6) for p in images}
    assert main(["predict", *map(str, images), "--site", str(calibrated[0])]) == 0
    out = capsys.readouterr().out
    assert site.describe() in out
    assert main(["predict", "--json", *map(str, images), "--site", str(calibrated[0])]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["path"]: r["probability"] for r in rows} == expected
    assert {r["threshold"] for r in rows} == {site.threshold} != {round(base.card.threshold, 6)}
    folder = tmp_path / "scan"
    folder.mkdir()
    for p in images:
        (folder / p.name).write_bytes(p.read_bytes())
    assert main(["scan", str(folder), "--out", str(tmp_path / "scan.csv"), "--site", str(calibrated[0])]) == 0
    with open(tmp_path / "scan.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    scanned = {row["path"]: (float(row["probability"]), float(row["threshold"])) for row in written}
    assert scanned == {p.name: (expected[str(p)], site.threshold) for p in images}
    assert {row["site_sha256"] for row in written} == {site.sha256[:12]}  # every row names its calibration
    before = (tmp_path / "scan.csv").read_bytes()
    capsys.readouterr()
    assert main(["scan", str(folder), "--out", str(tmp_path / "scan.csv"), "--resume"]) == 2  # without the site
    assert "site calibration" in capsys.readouterr().err and (tmp_path / "scan.csv").read_bytes() == before
    # with it, the resume is checked against the site's sha256 before the model loads, as the scan writes it
    assert main(["scan", str(folder), "--out", str(tmp_path / "scan.csv"), "--resume", "--site", str(calibrated[0])]) == 0
    assert capsys.readouterr().out.startswith(f"0 new: 0 flagged PNEUMONIA, 0 with warnings, 0 errors; {len(images)} already")


def _dummy_folder(root: Path, normal: int = 25, pneumonia: int = 25) -> Path:
    """Files named like images: every refusal below comes before any is decoded."""
    for label, count in (("NORMAL", normal), ("PNEUMONIA", pneumonia)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / label / f"{i}.png").write_bytes(b"not decoded")
    return root


def _other_model(root: Path) -> Path:
    """A model file with its own card (another sha256): a site of the bundled model must not apply to it."""
    root.mkdir()
    card = json.loads((default_model_path().parent / "model_card.json").read_text())
    model = root / card["model_file"]
    model.write_bytes(b"another model")
    card["sha256"] = hashlib.sha256(b"another model").hexdigest()
    (root / "model_card.json").write_text(json.dumps(card))
    return model


def _site_of(sha256: str) -> bytes:
    return SiteCalibration("Other", sha256, 1.0, 0.0, 0.5, "2026-01-01", {"NORMAL": 20, "PNEUMONIA": 20}).encode()


def _refusal(tmp: Path, case: str) -> tuple[list[str], Path]:
    """(arguments, output that must not appear) of each way to get a command refused."""
    folder = _dummy_folder(tmp / "data")
    out = tmp / "out" / "site.json"
    site = tmp / "site.json"
    site.write_bytes(_site_of(json.loads((default_model_path().parent / "model_card.json").read_text())["sha256"]))
    image = next((folder / "NORMAL").iterdir())
    labels = tmp / "labels.csv"
    if case == "no PNEUMONIA folder":
        for f in (folder / "PNEUMONIA").iterdir():
            f.unlink()
        (folder / "PNEUMONIA").rmdir()
        return ["calibrate", str(folder), "--out", str(out)], out
    if case == "too few NORMAL":
        _dummy_folder(tmp / "few", normal=5)
        return ["calibrate", str(tmp / "few"), "--out", str(out)], out
    if case == "unknown label":
        labels.write_text("path,label\nNORMAL/0.png,NORMAL\nNORMAL/1.png,covid\n")
        return ["calibrate", str(folder), "--labels", str(labels), "--out", str(out)], out
    if case == "missing listed file":
        labels.write_text("NORMAL/0.png,NORMAL\nNORMAL/gone.png,PNEUMONIA\n")
        return ["calibrate", str(folder), "--labels", str(labels), "--out", str(out)], out
    if case == "out is not a site file":
        return ["calibrate", str(folder), "--out", str(image), "--overwrite"], image
    if case == "evaluate out holds metrics":
        (tmp / "eval").mkdir()
        (tmp / "eval" / "metrics.json").write_text("{}")
        return ["evaluate", str(folder), "--out", str(tmp / "eval")], tmp / "eval" / "roc.png"
    if case == "truncated site":
        site.write_bytes(site.read_bytes()[:40])
        return ["heatmap", str(image), "--out", str(tmp / "h.png"), "--site", str(site)], tmp / "h.png"
    if case == "edited site":
        site.write_text(site.read_text().replace('"threshold": 0.5', '"threshold": 0.4'))
        return ["scan", str(folder / "NORMAL"), "--out", str(tmp / "scan.csv"), "--site", str(site)], tmp / "scan.csv"
    if case == "site of another model":
        site.write_bytes(_site_of("ab" * 32))
        return ["evaluate", str(folder), "--out", str(tmp / "eval"), "--site", str(site)], tmp / "eval"
    if case == "--model of another model":
        return ["predict", str(image), "--site", str(site), "--model", str(_other_model(tmp / "other"))], tmp / "none"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["no PNEUMONIA folder", "too few NORMAL", "unknown label", "missing listed file",
                                  "out is not a site file", "evaluate out holds metrics", "truncated site", "edited site",
                                  "site of another model", "--model of another model"])
def test_refusals_are_one_line_exit_2_and_write_nothing(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args, output = _refusal(tmp_path, case)
    before = sorted(p for p in tmp_path.rglob("*"))
    snapshot = {p: p.read_bytes() for p in before if p.is_file()}
    assert main(args) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("pneumoscan-cli: "), captured.err
    assert captured.out == ""
    assert sorted(p for p in tmp_path.rglob("*")) == before and not (output.exists() and output not in snapshot)
    assert {p: p.read_bytes() for p in before if p.is_file()} == snapshot


def test_fewer_than_20_in_scope_is_refused_after_naming_those_left_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    if not KERMANY.is_dir():
        pytest.skip(f"shared data not found at {KERMANY}")
    for label in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for source in _validation(label, 20 if label == "PNEUMONIA" else 19, seed=3):
            (tmp_path / "data" / label / source.name).write_bytes(source.read_bytes())
    _noise(tmp_path / "data" / "NORMAL" / "noise.png", 4)
    out = tmp_path / "site.json"
    assert main(["calibrate", str(tmp_path / "data"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "NORMAL/noise.png: not a chest X-ray" in err
    assert "after leaving out 1 images outside the model's scope" in err and "NORMAL has 19" in err
    assert not out.exists()


@pytest.mark.skipif(not all(find_spec(m) for m in ("tensorflow", "sklearn", "matplotlib")),
                    reason="the training evaluate needs the training extra")
def test_both_evaluate_commands_agree(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from model_training.evaluate import evaluate

    if not KERMANY.is_dir():
        pytest.skip(f"shared data not found at {KERMANY}")
    for label in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for source in _validation(label, 20, seed=5):
            gray = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)  # brightened, so the calibration is imperfect
            cv2.imwrite(str(tmp_path / "data" / label / f"{source.stem}.png"), (255 * (gray / 255.0) ** 0.5).astype(np.uint8))
    _noise(tmp_path / "data" / "NORMAL" / "noise.png", 6)  # outside scope: kept by both here
    training = evaluate(default_model_path(), tmp_path / "data", tmp_path / "training")
    cli = _metrics(tmp_path / "data", tmp_path / "cli", "--include-outside-scope")
    assert cli["n"] == training["n"] == 41 and cli["n_out_of_domain"] == training["n_out_of_domain"] >= 1
    for key in ("accuracy", "auc", "ece"):
        assert cli[key] == pytest.approx(training[key], abs=1e-3)
    assert set(training) - {"errors"} <= set(cli)  # the same keys, plus the intervals and the scope report


def test_evaluate_reads_a_labels_csv(site_folders: tuple[Path, Path], tmp_path: Path) -> None:
    held = site_folders[1]
    listed = {f"NORMAL/{p.name}": "normal" for p in sorted((held / "NORMAL").glob("*.png"))[:3]}
    listed |= {f"PNEUMONIA/{p.name}": "1" for p in sorted((held / "PNEUMONIA").glob("*.png"))[:2]}
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{k},{v}\n" for k, v in listed.items()))
    metrics = _metrics(held, tmp_path / "out", "--labels", str(labels), "--include-outside-scope")
    with open(tmp_path / "out" / "predictions.csv", newline="") as handle:
        rows = {row["path"]: row["label"] for row in csv.DictReader(handle)}
    assert rows == {k: "NORMAL" if v == "normal" else "PNEUMONIA" for k, v in listed.items()}
    assert (metrics["n_normal"], metrics["n_pneumonia"]) == (3, 2)


def test_evaluate_and_calibrate_run_without_the_training_stack(site_folders: tuple[Path, Path], tmp_path: Path) -> None:
    """The base install: TensorFlow, Keras, scikit-learn, SciPy and matplotlib made unimportable in a fresh process."""
    held = str(site_folders[1])
    calls = [["evaluate", held, "--out", str(tmp_path / "eval")], ["calibrate", held, "--out", str(tmp_path / "site.json")]]
    code = ("import sys\nclass Block:\n    def find_spec(self, name, path=None, target=None):\n"
            f"        if name.split('.')[0] in {BLOCKED!r}: raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\nimport app.cli\n"
            f"print([app.cli.main(argv) for argv in {calls!r}])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.stdout.splitlines()[-1] == "[0, 0]", result.stderr
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n"] > 0
    assert SiteCalibration.load(tmp_path / "site.json").counts["NORMAL"] >= 20
