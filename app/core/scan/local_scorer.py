"""The `Scorer` of this machine: files decoded on threads (or in decode processes) while the model runs
on the previous batch; one file's failure becomes its error row and the scan goes on.

Two decode threads beside ONNX Runtime's two intra-op threads (`onnx_backend.session_threads`) on a
2-core machine: measured with `benchmarks/scan_throughput.py`-style runs, 2 + 2 beat 1 + 1, 1 + 2 and
2 + 1 (the scan is CPU-bound there, model and decoding together using both cores); lowering the decode
threads' priority or turning OpenCV's own thread pool off changed nothing measurable.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from app.core.errors import PneumoScanError
from app.core.io.model_input import load_model_input
from app.core.io.preprocessing import PreprocessConfig
from app.core.model.card import ModelCard
from app.core.scan.loop import Scorer
from app.core.scan.row import ScanRow
from app.core.screening import Prepared, Screener

DEFAULT_BATCH_SIZE = 16  # the one default of the CLI, the GUI and the engine
DECODE_THREADS = 2  # without decode processes: overlaps decoding with the model on a 2-core laptop


def score_locally(screener: Screener, clahe: bool | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  threads: int = DECODE_THREADS, processes: int = 0) -> Scorer:
    """Batches decoded on `threads` threads (or `processes` processes) while the model runs on the previous one."""

    def score(entries: list[tuple[Path, str]], names: list[str]) -> Iterator[list[ScanRow]]:
        pool = _decode_pool(screener.card, threads, processes)
        with pool:
            def submit(start: int) -> list[Future[Prepared]]:
                if processes:
                    return [_failed(problem) if problem else pool.submit(_prepare_in_process, path, clahe)
                            for path, problem in entries[start : start + batch_size]]
                return [_failed(problem) if problem else pool.submit(_prepared, screener.card.preprocessing, path, clahe)
                        for path, problem in entries[start : start + batch_size]]

            starts = range(0, len(entries), batch_size)
            pending = submit(0) if entries else []
            try:
                for start in starts:
                    futures = pending
                    pending = submit(start + batch_size) if start + batch_size < len(entries) else []
                    yield _finish_batch(screener, names[start : start + batch_size], futures, clahe)
            finally:  # cancelled or interrupted: do not decode the next batch for nothing
                for future in pending:
                    future.cancel()

    return score


def _decode_pool(card: ModelCard, threads: int, processes: int) -> Executor:
    if not processes:
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pneumoscan-load")
    # spawn, not fork: this process already runs ONNX Runtime's threads, which a fork would copy half-alive
    return ProcessPoolExecutor(processes, multiprocessing.get_context("spawn"), initializer=_start_decoder,
                               initargs=(card.preprocessing,))


_DECODER: PreprocessConfig | None = None  # in a decode process: the model card's preprocessing (no model)


def _start_decoder(preprocessing: PreprocessConfig) -> None:
    """Decoding and preprocessing need the card's steps only; the model stays in the scanning process."""
    global _DECODER
    _DECODER = preprocessing


def _prepare_in_process(path: Path, clahe: bool | None) -> Prepared:
    assert _DECODER is not None, "decode process started without the card's preprocessing"
    return _prepared(_DECODER, path, clahe)


def _prepared(preprocessing: PreprocessConfig, path: Path, clahe: bool | None) -> Prepared:
    prepared = load_model_input(path, preprocessing, clahe)
    return Prepared(prepared.tensor, prepared.warnings)


def _failed(problem: str) -> Future[Prepared]:
    future: Future[Prepared] = Future()
    future.set_exception(PneumoScanError(problem))
    return future



def _finish_batch(screener: Screener, names: list[str], futures: list[Future[Prepared]], clahe: bool | None) -> list[ScanRow]:
    """Collect one batch's decoded images, predict the good ones together, keep the file order."""
    rows: list[ScanRow | None] = [None] * len(names)
    good: list[tuple[int, Prepared]] = []
    for i, future in enumerate(futures):
        try:
            good.append((i, future.result()))
        except Exception as exc:  # noqa: BLE001 - any failure of one file becomes its error row; the scan goes on
            rows[i] = ScanRow.from_error(names[i], exc)
    try:
        predictions = screener.predict_prepared([p for _, p in good], clahe)
    except Exception as exc:  # noqa: BLE001 - a failed batch gives its files error rows; the scan goes on
        predictions = None
        for i, _ in good:
            rows[i] = ScanRow.from_error(names[i], exc)
    for (i, _), prediction in zip(good, predictions or []):
        rows[i] = ScanRow.from_prediction(names[i], prediction, screener.card.sha256)
    return [row for row in rows if row is not None]
