"""Folder scans on a Dask cluster (`scan --dask ADDRESS`, or `--dask local:N` for N processes here).

Why Dask (`dask.distributed`, the `cluster` extra) rather than a home-made layer: it already starts
workers on Slurm/PBS/Kubernetes (dask-jobqueue, dask-kubernetes), re-runs the tasks of a worker that
dies, and moves results back to the client. Each worker loads the model once, through a worker plugin
that refuses a model other than the client's (version and sha256); the files are read by path, so the
folder (and `--model`, if given) must be visible at the same path on every worker, as on a shared file
system. The client cuts the files into chunks, and `app.core.scan.loop.run_scan` writes the rows in sorted
order as chunks finish: the same CSV, resume, progress and Ctrl-C as a local scan. A chunk is written
once, when its result arrives, however often Dask had to run it.

Who verifies what: the client runs no model, so it reads the card alone (`load_card`: version, sha256 and
preprocessing, for the CSV and the resume check) and hashes nothing. Each worker opens its `ModelBundle`
once (the card, and one hash of each file its backend runs: the `.onnx`, its head, the scope files),
because a worker's files are its own (another machine's disk, its own default model), which no check on
the client can vouch for; the plugin then compares that card's version and sha256 with the client's.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ModelError, PneumoScanError
from app.core.scan.local_scorer import score_locally
from app.core.model.bundle import ModelBundle
from app.core.model.card import ModelCard
from app.core.scan.folder import DEFAULT_BATCH_SIZE, ScanRequest
from app.core.scan.loop import ScanPlan, ScanUpdate, Scorer, run_scan
from app.core.scan.row import ScanRow
from app.core.screening import Screener

try:
    from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
except ImportError:  # the `cluster` extra is not installed: `require_dask` says so when --dask is asked for
    WorkerPlugin = object  # type: ignore[assignment,misc]

PLUGIN = "pneumoscan-model"
CONNECT_TIMEOUT = "10s"  # a scheduler address with a typo should not keep the user waiting long
PROBE_TIMEOUT_S = 10.0  # for the first bytes of a Dask scheduler's handshake (`probe_scheduler`)
MAX_HANDSHAKE_BYTES = 1 << 20  # a scheduler's handshake is a few dozen bytes
WORKERS_TIMEOUT = 30.0  # seconds to wait for a scheduler without workers to get one
RETRIES = 2  # a chunk whose task raised is run again; a chunk whose worker died is re-run by the scheduler
MAX_LOCAL_WORKERS = 256
QUIET = logging.CRITICAL + 1  # the scheduler logs a client that leaves mid-scan (Ctrl-C) as CRITICAL: it is not
_LOCAL = re.compile(r"^local:(\d{1,12})$")


def require_dask() -> None:
    if WorkerPlugin is object:
        raise PneumoScanError("--dask needs dask.distributed: pip install 'pneumoscan[cluster]'.")


@dataclass(frozen=True)
class DaskTarget:
    """Where to run: a scheduler's address, or a LocalCluster of `local_workers` processes on this machine."""

    address: str = ""
    local_workers: int = 0

    @classmethod
    def parse(cls, text: str) -> DaskTarget:
        text = text.strip()
        if match := _LOCAL.match(text):
            workers = int(match[1])
            if not 1 <= workers <= MAX_LOCAL_WORKERS:
                raise PneumoScanError(f"--dask {text}: the number of local workers must be 1 to {MAX_LOCAL_WORKERS}.")
            return cls(local_workers=workers)
        if text.startswith("local") or not text or any(c.isspace() for c in text):
            raise PneumoScanError(f"--dask {text!r}: give a scheduler address (tcp://host:8786) or local:N.")
        return cls(address=text)

    def __str__(self) -> str:
        return f"local:{self.local_workers}" if self.local_workers else self.address


@dataclass(frozen=True)
class ModelSpec:
    """The model every worker must run: `path` None means each worker's own default model."""

    path: str | None
    backend: str | None
    version: str
    sha256: str
    site: str | None = None  # a site calibration file every worker applies (verified against the model there)

    @classmethod
    def of(cls, card: ModelCard, model: Path | None, backend: str | None, site: Path | None = None) -> ModelSpec:
        return cls(str(Path(model).resolve()) if model else None, backend, card.version, card.sha256,
                   str(Path(site).resolve()) if site else None)


class ModelPlugin(WorkerPlugin):
    """Loads the model once per worker process (again on a worker that replaces a dead one) and checks it."""

    name = PLUGIN

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.screener: Screener | None = None
        self.load_seconds = 0.0

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed.Worker
        started = time.perf_counter()
        spec = self.spec
        try:
            bundle = ModelBundle.open(Path(spec.path) if spec.path else None, spec.backend)  # read and verified once
            screener = Screener(bundle, site=Path(spec.site) if spec.site else None)
        except PneumoScanError as exc:
            raise ModelError(f"the Dask worker {worker.address} cannot load the model: {exc}") from None
        card = screener.card
        if (card.version, card.sha256) != (spec.version, spec.sha256):
            raise ModelError(f"the Dask worker {worker.address} has model {card.version} (sha256 {card.sha256[:12]}), "
                             f"this scan uses {spec.version} (sha256 {spec.sha256[:12]}): install the same model on "
                             "every worker, or pass --model with a path they all see.")
        self.screener, self.load_seconds = screener, time.perf_counter() - started


def score_chunk(entries: list[tuple[str, str, str]], clahe: bool | None, batch_size: int) -> list[ScanRow]:
    """On a worker: (absolute path, relative name, problem) of each file -> its rows, as a local scan scores them."""
    plugin: ModelPlugin | None = get_worker().plugins.get(PLUGIN)  # type: ignore[assignment]  # registered as ModelPlugin
    if plugin is None or plugin.screener is None:
        raise ModelError("this Dask worker has no model loaded (its model plugin failed)")
    score = score_locally(plugin.screener, clahe, batch_size)
    rows = score([(Path(path), problem) for path, _, problem in entries], [name for _, name, _ in entries])
    return [row for batch in rows for row in batch]


def _load_seconds(dask_worker) -> float:  # noqa: ANN001 - run by `Client.run` on each worker
    return dask_worker.plugins[PLUGIN].load_seconds


def probe_scheduler(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Refuse, within `timeout_s`, a tcp:// address that is not a Dask scheduler: a Dask server speaks first
    (its handshake: an 8-byte little-endian length, then the message), while an HTTP server (the dashboard's
    8787) or a silent listener says nothing, on which `Client` would wait for ever. Other schemes are left
    to `Client`."""
    import socket
    import struct

    rest = address.removeprefix("tcp://")
    if "://" in rest:
        return
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PneumoScanError(f"--dask {address}: give a scheduler address as tcp://host:port (port 1 to 65535).")
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as sock:
            head = b""
            while len(head) < 8:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = sock.recv(8 - len(head))
                if not data:
                    raise ConnectionError("it closed the connection")
                head += data
    except TimeoutError:
        raise PneumoScanError(f"The address {address} did not answer as a Dask scheduler within {timeout_s:.0f} s "
                              "(is it the dashboard's port, or another service?); check --dask.") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise PneumoScanError(f"Cannot reach the Dask scheduler at {address} ({reason}); start it, or check --dask.") from None
    (length,) = struct.unpack("<Q", head)
    if not 0 < length <= MAX_HANDSHAKE_BYTES:
        raise PneumoScanError(f"The address {address} answered, but not as a Dask scheduler; check --dask.")


@contextlib.contextmanager
def connect(target: DaskTarget) -> Iterator[Client]:
    """A client of the target's scheduler (a LocalCluster started and stopped here for local:N)."""
    require_dask()
    cluster = None
    try:
        if target.local_workers:
            # Loopback only, and its HTTP endpoint on a free port (8787 may be another cluster's).
            with _children_ignore_ctrl_c():
                cluster = LocalCluster(n_workers=target.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       silence_logs=QUIET,
                                       scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
            client = Client(cluster)
        else:
            probe_scheduler(target.address)
            client = Client(target.address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise PneumoScanError(f"Cannot reach the Dask scheduler at {target} ({reason}); start it, or check --dask.") from None
    logging.getLogger("distributed").setLevel(QUIET)  # a lost worker is handled, not the user's business
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """Worker processes started meanwhile inherit SIGINT ignored: a terminal's Ctrl-C reaches the whole process
    group, and it is the client's to handle (it stops the cluster), not a traceback from every worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare_workers(client: Client, spec: ModelSpec) -> dict[str, float]:
    """Load and check the model on every worker (and on any that joins later); its load time per worker."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except TimeoutError:
        raise PneumoScanError(f"The Dask scheduler has had no workers for {WORKERS_TIMEOUT:.0f} s; start some.") from None
    try:
        client.register_plugin(ModelPlugin(spec))
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever failed on a worker, said in one line
        raise ModelError(f"a Dask worker could not load the model ({type(exc).__name__}: {exc}).") from None
    return client.run(_load_seconds)


def dask_scorer(client: Client, clahe: bool | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                chunk_size: int | None = None) -> Scorer:
    """Chunks of files scored on the workers, yielded in file order as soon as each chunk and all before it are back."""

    def score(entries: list[tuple[Path, str]], names: list[str]) -> Iterator[list[ScanRow]]:
        size = chunk_size or batch_size
        chunks = [[(str(path), name, problem) for (path, problem), name in zip(entries[i : i + size], names[i : i + size])]
                  for i in range(0, len(entries), size)]
        futures = [client.submit(score_chunk, chunk, clahe, batch_size, retries=RETRIES, pure=False) for chunk in chunks]
        index = {future.key: i for i, future in enumerate(futures)}
        arrived: dict[int, list[ScanRow]] = {}
        following = 0
        try:
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    arrived[i] = future.result()
                except Exception as exc:  # noqa: BLE001 - every try failed: the chunk's files get error rows
                    reason = f"Not scored: the Dask task failed on every try ({type(exc).__name__}: {exc})"
                    arrived[i] = [ScanRow.from_error(name, PneumoScanError(reason)) for _, name, _ in chunks[i]]
                future.release()
                while following in arrived:
                    yield arrived.pop(following)
                    following += 1
        finally:  # finished, stopped or interrupted: nothing is left running for this scan
            client.cancel(futures)

    return score


def scan_on_dask(target: DaskTarget, card: ModelCard, spec: ModelSpec, request: ScanRequest,
                 on_ready: Callable[[dict[str, float]], None] | None = None,
                 plan: ScanPlan | None = None) -> Iterator[ScanUpdate]:
    """`request` scanned by `run_scan` with the files scored on the target's workers; `on_ready` gets each
    worker's model load time; `plan`: what `request.check` returned (None: planned here). Connecting and checking
    the workers' model happen before the CSV is touched.
    """
    with connect(target) as client:
        load_seconds = prepare_workers(client, spec)
        if on_ready:
            on_ready(load_seconds)
        yield from run_scan(card, plan or request.plan(), dask_scorer(client, request.clahe, request.batch_size))
