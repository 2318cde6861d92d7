"""Scans on a Dask cluster (loopback only): the same CSV as a local scan, a worker killed mid-scan loses
nothing and writes nothing twice, and an unreachable scheduler or a worker with another model is refused
with one plain line and nothing written."""

from __future__ import annotations

import os
import signal
import time
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from app.cli import main  # noqa: E402
from app.core.scan import distributed as dask_scan  # noqa: E402
from app.core.errors import ModelError  # noqa: E402
from app.core.model.card import read_card  # noqa: E402
from app.core.scan.folder import ScanRequest, scan_folder  # noqa: E402
from app.core.screening import Screener  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two worker processes (each a Nanny that restarts its worker if it dies), on 127.0.0.1 only."""
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as local:
        yield local.scheduler_address


@pytest.fixture()
def local_csv(small_onnx_model: Path, sample_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "local.csv"
    list(scan_folder(Screener(small_onnx_model), sample_folder, out))
    return out


def _dask_scan(address: str, model: Path, folder: Path, out: Path, **request: object) -> Iterator:  # noqa: ANN401
    card = read_card(model)
    spec = dask_scan.ModelSpec.of(card, model, None)
    return dask_scan.scan_on_dask(dask_scan.DaskTarget(address), card, spec, ScanRequest(folder, out, **request))


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_cluster_writes_the_same_csv_as_a_local_scan(cluster: str, small_onnx_model: Path, sample_folder: Path,
                                                       local_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "dask.csv"
    updates = list(_dask_scan(cluster, small_onnx_model, sample_folder, out, batch_size=3))
    assert out.read_bytes() == local_csv.read_bytes()
    assert [u.done for u in updates] == [3, 6, 9, 12, 13] and updates[-1].total == 13  # in order, chunk by chunk
    # --resume on a cluster: the finished rows are kept, the error row is tried again, the file is the same.
    updates = list(_dask_scan(cluster, small_onnx_model, sample_folder, out, resume=True))
    assert updates[-1].skipped == 12 and updates[-1].total == 1 and out.read_bytes() == local_csv.read_bytes()


def test_a_worker_killed_mid_scan_loses_no_file(cluster: str, small_onnx_model: Path, sample_folder: Path,
                                                tmp_path: Path) -> None:
    images = sorted(sample_folder.glob("*.jpeg"))
    for i in range(12, 48):  # enough chunks of one file that both workers are busy when one is killed
        (sample_folder / f"{i:02d}_copy.jpeg").write_bytes(images[i % len(images)].read_bytes())
    local, out = tmp_path / "local.csv", tmp_path / "dask.csv"
    list(scan_folder(Screener(small_onnx_model), sample_folder, local))
    scan = _dask_scan(cluster, small_onnx_model, sample_folder, out, batch_size=1)
    first = next(scan)
    with distributed.Client(cluster) as client:
        busy = {address: keys for address, keys in client.processing().items() if keys}
        victim = next(iter(busy))  # a worker with a chunk in hand
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)  # its Nanny starts a new worker; its chunks run again elsewhere or there
        rest = list(scan)
        assert pid not in client.run(os.getpid).values()
    assert first.done + sum(len(u.rows) for u in rest) == 49
    assert out.read_bytes() == local.read_bytes()  # complete, sorted, no row twice


def test_local_cluster_from_the_command_line(small_onnx_model: Path, sample_folder: Path, local_csv: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.csv"
    code = main(["scan", str(sample_folder), "--out", str(out), "--dask", "local:2", "--model", str(small_onnx_model)])
    err = capsys.readouterr().err
    assert code == 1 and "2 Dask workers ready (model loaded in" in err  # 1: the broken file's error row
    assert out.read_bytes() == local_csv.read_bytes()


def test_a_worker_with_another_model_is_refused_before_anything_is_written(
        cluster: str, real_model_path: Path, small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers were started without $PNEUMOSCAN_MODEL (their default is the bundled model); the client's is another."""
    monkeypatch.setenv("PNEUMOSCAN_MODEL", str(small_onnx_model))
    out = tmp_path / "out.csv"
    code = main(["scan", str(sample_folder), "--out", str(out), "--dask", cluster])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "has model" in line and "0.0.0-test" in line and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xrays"]


def test_a_worker_without_the_model_is_refused(cluster: str, small_onnx_model: Path) -> None:
    """--model names a path the workers cannot see: the scan stops at the plugin, with the worker's own reason."""
    card = read_card(small_onnx_model)
    spec = dask_scan.ModelSpec(str(small_onnx_model.parent / "elsewhere" / small_onnx_model.name), None, card.version,
                               card.sha256)
    with dask_scan.connect(dask_scan.DaskTarget(cluster)) as client, pytest.raises(ModelError, match="cannot load the model"):
        dask_scan.prepare_workers(client, spec)


def test_unreachable_scheduler_and_bad_addresses_exit_2(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_scan, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out.csv"
    for address, reason in ((f"tcp://127.0.0.1:{port}", "Cannot reach the Dask scheduler"), ("local:0", "1 to"),
                            ("local:two", "local:N"), ("", "local:N")):
        code = main(["scan", str(sample_folder), "--out", str(out), "--dask", address, "--model", str(small_onnx_model)])
        assert code == 2 and reason in _one_line(capsys.readouterr().err) and not out.exists()
    code = main(["scan", str(sample_folder), "--out", str(out), "--dask", "local:2", "--workers", "2"])
    assert code == 2 and "--workers" in _one_line(capsys.readouterr().err) and not out.exists()


def test_ctrl_c_stops_a_local_cluster_scan_cleanly(small_onnx_model: Path, sample_folder: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the terminal's whole process group: the client stops, the workers print nothing, the
    CSV keeps every finished row, and --resume completes it."""
    import subprocess
    import sys

    images = sorted(sample_folder.glob("*.jpeg"))
    for i in range(12, 200):
        (sample_folder / f"{i:03d}_copy.jpeg").write_bytes(images[i % len(images)].read_bytes())
    out = tmp_path / "out.csv"
    command = [sys.executable, "-m", "app.cli", "scan", str(sample_folder), "--out", str(out), "--dask", "local:2",
               "--batch-size", "1", "--model", str(small_onnx_model)]
    scan = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert scan.stderr is not None
    progress = b""
    while b"workers ready" not in progress:  # the cluster is up (no progress bar on a pipe)
        progress += scan.stderr.read1(256) or b"(eof)"
        assert b"(eof)" not in progress, progress
    deadline = time.monotonic() + 60
    while not (out.is_file() and out.read_bytes().count(b"\n") > 1):  # the first rows are in: the workers are busy
        assert time.monotonic() < deadline and scan.poll() is None, progress
        time.sleep(0.05)
    os.killpg(scan.pid, signal.SIGINT)
    err = (progress + scan.stderr.read()).decode()
    assert scan.wait(timeout=60) == 130 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Run again with --resume" in err
    finished = out.read_text(encoding="utf-8").count("\n") - 1
    assert 0 < finished < 201
    assert main(command[3:] + ["--resume"]) == 1 and out.read_text(encoding="utf-8").count("\n") == 202
