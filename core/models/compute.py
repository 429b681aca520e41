"""Where heavy work runs: this process and two local workers, or a Dask cluster, chosen by configuration.

- `current_config() -> ComputeConfig`, from (first wins) a fallback chosen in the app (`use_local()`), the
  `WORKBENCH_COMPUTE` environment variable (the CLI's `--compute` sets it), the `[compute]` table of
  `.streamlit/secrets.toml`, else `local`. Values: `local`, `dask-local` (or `dask-local:N` for N workers), or a
  scheduler address `tcp://host:8786` / `tls://host:8786` (TLS with the cluster's CA, certificate and key files).
- `client(config=None)`: the Dask client of the configured cluster (started or connected once per process and
  kept); `None` for local. Raises ComputeUnavailable with a plain message when the cluster does not answer.
- `describe(config=None, connect=True) -> dict`: backend, address, workers, threads, dashboard link (and whether
  the scheduler can draw it: `dashboard_ready`) and versions, as shown on the Train page and recorded on every run
  (`stamp`).
- `cluster_error(err)`: turns a Dask failure (a worker lost, the scheduler gone) into a ComputeFailed message.
Workers never open the workspace: they get rows scattered by the app (core.models.workers) or Parquet partitions
(core.release.scoring), and return results to it.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import threading
import tomllib
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import WorkbenchError

log = logging.getLogger(__name__)

LOCAL, DASK_LOCAL, DASK = "local", "dask-local", "dask"
DEFAULT_DASK_WORKERS = 2
CONNECT_SECONDS = 10
_LOCK = threading.RLock()
_CLIENTS: dict["ComputeConfig", object] = {}
_CLUSTERS: dict["ComputeConfig", object] = {}
_OVERRIDE: list["ComputeConfig | None"] = [None]


class ComputeUnavailable(WorkbenchError):
    """The configured Dask cluster cannot be reached (or started); nothing ran and nothing was saved."""


class ComputeFailed(WorkbenchError):
    """The cluster lost a worker or its scheduler during a job and could not finish it; nothing was saved."""


class ClusterDataLost(RuntimeError):
    """Raised on a worker when a task's data never arrived (its scheduler went away): the job stops, not the model."""


@dataclass(frozen=True)
class ComputeConfig:
    mode: str = LOCAL  # local | dask-local | dask
    address: str | None = None  # the scheduler, for mode "dask"
    workers: int = DEFAULT_DASK_WORKERS  # worker processes of a dask-local cluster
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @property
    def is_local(self) -> bool:
        return self.mode == LOCAL

    @property
    def label(self) -> str:
        if self.mode == DASK_LOCAL:
            return f"dask-local ({self.workers} workers on this machine)"
        return self.address if self.mode == DASK else "local"


def parse(value: str | None, **extra) -> ComputeConfig:
    """Reads a backend setting ('local', 'dask-local', 'dask-local:3', 'tcp://host:8786'). Raises: ComputeUnavailable."""
    text = (value or LOCAL).strip()
    tls = {k: extra.get(k) or None for k in ("tls_ca_file", "tls_cert_file", "tls_key_file")}
    if text.lower() == LOCAL:
        return ComputeConfig()
    if text.lower().startswith(DASK_LOCAL):
        count = text[len(DASK_LOCAL):].lstrip(":") or str(extra.get("workers") or DEFAULT_DASK_WORKERS)
        if not count.isdigit() or not 1 <= int(count) <= 64:
            raise ComputeUnavailable(f"{text!r} is not a compute setting: write dask-local or dask-local:N with N "
                                     "workers between 1 and 64.")
        return ComputeConfig(DASK_LOCAL, workers=int(count))
    if "://" in text and text.split("://", 1)[0] in ("tcp", "tls") and text.split("://", 1)[1]:
        if text.startswith("tls://") and not tls["tls_ca_file"]:
            raise ComputeUnavailable(f"A TLS scheduler ({text}) needs the cluster's CA file: set tls_ca_file (and "
                                     "tls_cert_file, tls_key_file) in [compute] of .streamlit/secrets.toml, or "
                                     "WORKBENCH_COMPUTE_TLS_CA / _CERT / _KEY.")
        return ComputeConfig(DASK, address=text, **tls)
    raise ComputeUnavailable(f"{text!r} is not a compute setting. Use local, dask-local, dask-local:N, or a "
                             "scheduler address such as tcp://10.0.0.5:8786.")


def _secrets() -> dict:
    path = Path(os.environ.get("WORKBENCH_SECRETS", ".streamlit/secrets.toml"))
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh).get("compute") or {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return table if isinstance(table, dict) else {}


def configured() -> ComputeConfig:
    """Returns the backend the configuration asks for (environment, then secrets.toml), ignoring any fallback."""
    env = os.environ.get("WORKBENCH_COMPUTE")
    if env:
        return parse(env, tls_ca_file=os.environ.get("WORKBENCH_COMPUTE_TLS_CA"),
                     tls_cert_file=os.environ.get("WORKBENCH_COMPUTE_TLS_CERT"),
                     tls_key_file=os.environ.get("WORKBENCH_COMPUTE_TLS_KEY"))
    table = _secrets()
    if table:
        return parse(str(table.get("backend") or table.get("address") or LOCAL), workers=table.get("workers"),
                     tls_ca_file=table.get("tls_ca_file"), tls_cert_file=table.get("tls_cert_file"),
                     tls_key_file=table.get("tls_key_file"))
    return ComputeConfig()


def current_config() -> ComputeConfig:
    """Returns the backend jobs use now: the configured one, unless the app fell back to local."""
    with _LOCK:
        if _OVERRIDE[0] is not None:
            return _OVERRIDE[0]
    return configured()


def use_local(enabled: bool = True) -> None:
    """Runs this process's jobs locally from now on (the one-click fallback), or back on the configured backend."""
    with _LOCK:
        _OVERRIDE[0] = ComputeConfig() if enabled else None


def is_fallback() -> bool:
    """Whether jobs run locally because the app fell back, although a cluster is configured."""
    with _LOCK:
        return _OVERRIDE[0] is not None


def client(config: ComputeConfig | None = None):
    """Returns the Dask client for the backend (None for local), starting or connecting it once.

    Raises: ComputeUnavailable.
    """
    config = config or current_config()
    if config.is_local:
        return None
    with _LOCK:
        existing = _CLIENTS.get(config)
        if existing is not None and existing.status == "running":
            return existing
        _drop(config)
        try:
            made = _start(config)
        except ComputeUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 — any connection failure becomes one plain message
            log.info("compute backend %s unavailable: %r", config.label, err)
            raise ComputeUnavailable(_unreachable(config, err)) from None
        _CLIENTS[config] = made
        return made


def _unreachable(config: ComputeConfig, err: Exception) -> str:
    why = " ".join(str(err).split())[:200] or type(err).__name__
    if config.mode == DASK_LOCAL:
        return (f"The local Dask cluster could not start ({why}). Run the job on this machine instead, or check the "
                "server's memory and free ports.")
    return (f"The Dask cluster at {config.address} did not answer ({why}). Check that its scheduler runs and that "
            "this server can reach it, or run the job on this machine instead.")


def _security(config: ComputeConfig):
    if not config.address or not config.address.startswith("tls://"):
        return None
    from distributed.security import Security

    return Security(tls_ca_file=config.tls_ca_file, tls_client_cert=config.tls_cert_file,
                    tls_client_key=config.tls_key_file, require_encryption=True)


def _start(config: ComputeConfig):
    from distributed import Client

    if config.mode == DASK_LOCAL:
        import dask
        from distributed import LocalCluster

        # Dask's statistical profiler samples every worker thread's stack each 10 ms: on scoring's pandas-heavy
        # partitions it cost a quarter of the workers' CPU (bench dask: 6.9 s warm with it, 5.1 s without). This
        # process runs no worker; the nannies hand its configuration to the workers they (re)start.
        # Nannies also start workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap
        # threshold: every array over 128 KiB is mapped afresh and page-faulted in, and a scoring partition took 10x
        # the page faults and a third more CPU (0.6 -> 0.9 CPU-s per 250k rows). None leaves glibc's default.
        dask.config.set({"distributed.worker.profile.enabled": False,
                         "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        # Loopback only: the scheduler, the workers and the dashboard are not reachable from other machines.
        with plain_main():
            cluster = LocalCluster(n_workers=config.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", scheduler_port=0, silence_logs=logging.ERROR,
                                   worker_class=plain_main_nanny())
        _CLUSTERS[config] = cluster
        return Client(cluster, set_as_default=False)
    return Client(config.address, security=_security(config), timeout=CONNECT_SECONDS, set_as_default=False)


@contextmanager
def plain_main():
    """Starts worker processes without re-running the caller's main script.

    Spawned processes import the parent's `__main__` again; inside Streamlit (the server and AppTest) that is the page
    script being run, which opens the workspace the server holds, so the worker could not start. While the workers
    start, `__main__` is a blank module.
    """
    saved = sys.modules.get("__main__")
    blank = types.ModuleType("__main__")
    sys.modules["__main__"] = blank
    try:
        yield
    finally:
        # Streamlit may have started a page run meanwhile (it sets its own __main__): keep that one, not the old page.
        if saved is not None and sys.modules.get("__main__") is blank:
            sys.modules["__main__"] = saved


_NANNY: list = []


def plain_main_nanny():
    """The Nanny class a dask-local cluster uses: it (re)starts its worker process under `plain_main`.

    A nanny restarts a worker that died (SIGKILL, out of memory) long after the cluster started, while `__main__` is
    a Streamlit page again; without this the new worker would run that page script as `__mp_main__`.
    """
    if not _NANNY:
        from distributed import Nanny

        class PlainMainNanny(Nanny):
            async def instantiate(self):
                with plain_main():
                    return await super().instantiate()

        _NANNY.append(PlainMainNanny)
    return _NANNY[0]


def _drop(config: ComputeConfig) -> None:
    old, cluster = _CLIENTS.pop(config, None), _CLUSTERS.pop(config, None)
    for thing in (old, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:  # noqa: BLE001 — a dead cluster may fail to close; it is gone either way
                pass


def forget(c) -> None:
    """Drops a client whose cluster failed a job, so the next job reconnects (or restarts dask-local) afresh."""
    with _LOCK:
        for config in [k for k, v in _CLIENTS.items() if v is c]:
            _drop(config)


def close_all() -> None:
    """Closes every client and stops every cluster this process started."""
    with _LOCK:
        for config in list(set(_CLIENTS) | set(_CLUSTERS)):
            _drop(config)


atexit.register(close_all)


def versions() -> dict[str, str]:
    """The versions of the compute libraries (recorded on runs and receipts)."""
    out = {}
    for name in ("dask", "distributed", "joblib"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            pass
    return out


def describe(config: ComputeConfig | None = None, connect: bool = True) -> dict:
    """Where jobs run: backend, address, workers, threads, dashboard link, versions; with `error` when unreachable."""
    config = config or current_config()
    out = {"backend": config.mode, "label": config.label, "address": config.address, "fallback": is_fallback(),
           "versions": versions()}
    if config.is_local:
        out.update(workers=min(2, os.cpu_count() or 1), threads=min(2, os.cpu_count() or 1), dashboard=None)
        return out
    if not connect:
        out.update(workers=None, threads=None, dashboard=None)
        return out
    try:
        c = client(config)
        info = c.scheduler_info(n_workers=-1) if _takes_n_workers(c) else c.scheduler_info()
        workers = info.get("workers", {})
        dashboard = _dashboard(c, config)
        out.update(workers=len(workers), threads=sum(w.get("nthreads", 1) for w in workers.values()),
                   dashboard=dashboard, dashboard_ready=bool(dashboard) and _has_bokeh(c),
                   address=config.address or c.scheduler.address)
    except ComputeUnavailable as err:
        out.update(workers=None, threads=None, dashboard=None, error=str(err))
    except Exception as err:  # noqa: BLE001 — a cluster that drops while asked is unreachable, said plainly
        out.update(workers=None, threads=None, dashboard=None, error=_unreachable(config, err))
    return out


def _takes_n_workers(c) -> bool:
    import inspect

    return "n_workers" in inspect.signature(c.scheduler_info).parameters


def _dashboard(c, config: ComputeConfig) -> str | None:
    try:
        link = c.dashboard_link
    except Exception:  # noqa: BLE001 — a scheduler without the dashboard (bokeh missing) has no link
        return None
    return link if link and link.startswith("http") else None


_BOKEH: dict[str, bool] = {}  # by scheduler address: whether it can draw its dashboard


def _has_bokeh(c) -> bool:
    """Whether the scheduler has bokeh: without it the dashboard link opens a page that only says "Dask needs bokeh"
    (its plain status pages, info/main/workers.html, still work)."""
    address = c.scheduler.address
    if address not in _BOKEH:
        def probe():  # defined here so that it travels by value: the scheduler need not have the workbench's code
            import importlib.util

            return importlib.util.find_spec("bokeh") is not None

        try:
            _BOKEH[address] = bool(c.run_on_scheduler(probe))
        except Exception:  # noqa: BLE001 — a scheduler that refuses to say keeps its link
            return True
    return _BOKEH[address]


def stamp(config: ComputeConfig | None = None) -> dict[str, str]:
    """The compute fields recorded with a run's library versions: backend, worker count, dask versions."""
    info = describe(config, connect=not (config or current_config()).is_local)
    out = {"compute": info["backend"], "compute_workers": str(info.get("workers") or "")}
    if not (config or current_config()).is_local:
        out.update({k: v for k, v in info["versions"].items() if k in ("dask", "distributed")})
    return out


def threads(c) -> int:
    """Total worker threads of a cluster (at least 1)."""
    try:
        return max(1, sum(c.nthreads().values()))
    except Exception:  # noqa: BLE001
        return 1


def scratch_dir(home=None) -> str:
    """Returns the folder under the workspace for training copies (frames, memmaps), sweeping dead processes' ones."""
    from core.store.workspace import default_home

    folder = os.path.join(str(home or default_home()), "tmp")
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        parts = name.split("_")
        pid = parts[2] if name.startswith("wb_train_") and len(parts) > 2 else \
            parts[3] if name.startswith("joblib_memmapping_folder_") and len(parts) > 3 else None
        if pid and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cluster_error(err: BaseException, what: str = "training") -> ComputeFailed:
    """A plain message for a Dask failure during a job: the lost worker or scheduler, and that nothing was saved."""
    name = type(err).__name__
    if name == "KilledWorker":
        why = "a task kept losing its worker (a worker process died each time it ran it, perhaps out of memory)"
    elif name in ("CommClosedError", "StreamClosedError", "CancelledError", "FutureCancelledError", "TimeoutError",
                  "ConnectionError",
                  "OSError", "ConnectionRefusedError"):
        why = "the connection to the cluster's scheduler was lost"
    else:
        why = " ".join(str(err).split())[:200] or name
    return ComputeFailed(f"The Dask cluster could not finish the {what}: {why}. Nothing was saved. Check the cluster "
                         f"(its dashboard shows the workers), then start again, or run the {what} on this machine.")


def is_cluster_error(err: BaseException) -> bool:
    """Whether an exception comes from the cluster (lost worker, lost scheduler) rather than from the model."""
    mod = type(err).__module__ or ""
    if isinstance(err, ClusterDataLost):
        return True
    return (mod.startswith(("distributed", "tornado")) or type(err).__name__ in
            ("KilledWorker", "CommClosedError", "StreamClosedError", "FutureCancelledError", "CancelledError"))
