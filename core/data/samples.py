"""The sample datasets the app opens with: loaded once per workspace from sample_data/, so a first start is ready."""

from __future__ import annotations

from pathlib import Path

from core.data.ingest import ingest_path
from core.errors import AlreadyLoaded
from core.store import workspace as store
from core.store.workspace import Workspace, now_utc

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "sample_data"
SAMPLES = (("churn", "churn.csv"), ("churn_next_month", "churn_next_month.csv"), ("house_prices", "house_prices.csv"),
           ("support_tickets", "support_tickets.csv"))  # synthetic free-text tickets (sample_data/README.md)


def open_workspace(home: str | Path | None = None, *, seed_samples: bool = True) -> Workspace:
    """Opens (creating if needed) the workspace at `home`, loading the sample datasets on first start.

    Raises: WorkspaceLocked.
    """
    ws = store.open_workspace(home)
    if seed_samples:
        seed_sample_data(ws)
    return ws


def seed_sample_data(ws: Workspace) -> None:
    """Loads the shipped sample datasets once per workspace (a marker in wb_meta remembers it)."""
    if ws.read_rows("SELECT 1 FROM wb_meta WHERE key = 'samples_loaded'"):
        return
    with ws.cursor() as cur:
        claimed = cur.execute("INSERT OR IGNORE INTO wb_meta VALUES ('samples_loaded', ?) RETURNING key",
                              [now_utc().isoformat()]).fetchall()
    if not claimed:
        return
    for name, filename in SAMPLES:
        path = SAMPLE_DIR / filename
        if path.is_file() and not ws.read_rows("SELECT 1 FROM wb_datasets WHERE name = ?", [name]):
            try:
                ingest_path(ws, path, name=name, source_label=f"sample_data/{filename}")
            except AlreadyLoaded:
                pass


