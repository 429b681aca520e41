"""The wheel is the product: it ships every core package, installs into a fresh venv and runs the `workbench` CLI.

The wheel is built from a copy of the project files (so the build leaves nothing in the checkout) and installed with
`--no-deps --no-index` into a venv made with `--without-pip`. The dependencies are the project venv's own, reached
through a .pth file that appends its site-packages *after* the new venv's: nothing is downloaded, and `core` can only
come from the wheel, which the test checks. Every command runs with its cwd outside the repository and without
PYTHONPATH. The build uses the project venv's setuptools when it can build wheels (setuptools >= 70.1, or the `wheel`
package), with no index at all; otherwise pip's ordinary build isolation fetches `setuptools>=69` from the package
index, as `pip install .` would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")
pytestmark = pytest.mark.timeout(60)  # each test, the build and install in the first one's set-up included (~15 s)


def _run(cmd: list, cwd: Path, timeout: int = 60, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_HOME", "PYTHONHOME")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=clean | env, capture_output=True, text=True,
                          timeout=timeout)


def _ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _setuptools_builds_wheels() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1):
        return True  # bdist_wheel is part of setuptools from 70.1 on
    try:
        import wheel  # noqa: F401  (older setuptools builds wheels through it)
    except ImportError:
        return False
    return True


def _project_copy(dest: Path) -> Path:
    """The files a build reads: the top-level files (pyproject.toml, README.md, …) and the core package."""
    dest.mkdir()
    for path in ROOT.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, dest / path.name)
    shutil.copytree(ROOT / "core", dest / "core", ignore=SKIP)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel installed and the project venv's dependencies visible after it."""
    tmp = tmp_path_factory.mktemp("packaging")
    source, dist, venv = _project_copy(tmp / "src"), tmp / "dist", tmp / "venv"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, "."]
    if _setuptools_builds_wheels():
        build[4:4] = ["--no-build-isolation", "--no-index"]
    _ok(_run(build, cwd=source, timeout=50, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    [wheel] = dist.glob("ai_product_workbench-*.whl")

    _ok(_run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp))
    python = venv / "bin" / "python"
    _ok(_run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet",
              wheel], cwd=tmp, timeout=50, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    site = Path(_ok(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         cwd=tmp)).stdout.strip())
    # Appended after the venv's own site-packages, and as a plain path: the project venv's .pth files (its editable
    # install of this checkout among them) are not processed, so they cannot put the repository on sys.path.
    (site / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp / "elsewhere"
    outside.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "site": site, "cwd": outside, "tmp": tmp}


def test_the_wheel_ships_every_core_module(installed):
    with zipfile.ZipFile(installed["wheel"]) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    packages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "core").rglob("__init__.py")
                if "__pycache__" not in p.parts}
    assert {"core/__init__.py", "core/commands/__init__.py", "core/store/__init__.py"} <= packages
    assert packages <= names, f"packages missing from the wheel: {sorted(packages - names)}"
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "core").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert "core/preprocess.py" in names  # the alias saved models name
    assert not any(n.startswith(("tests/", "pages/", "sample_data/")) for n in names)
    assert "workbench = core.cli:main" in entry_points


def test_core_comes_from_the_wheel_not_the_checkout(installed):
    done = _ok(_run([installed["python"], "-c", "import core, core.commands, core.preprocess; print(core.__file__)"],
                    cwd=installed["cwd"]))
    where = Path(done.stdout.strip()).resolve()
    assert where.is_relative_to(installed["venv"].resolve()) and not where.is_relative_to(ROOT)


def test_the_installed_cli_runs_real_commands(installed):
    workbench, cwd, home = installed["venv"] / "bin" / "workbench", installed["cwd"], installed["tmp"] / "home"
    assert workbench.is_file()
    helped = _ok(_run([workbench, "--help"], cwd=cwd))
    assert "AI Product Workbench, headless." in helped.stdout
    for command in ("ingest", "datasets", "train", "register", "demo"):
        assert command in helped.stdout

    sample = cwd / "sample.csv"
    sample.write_text("city,visits,bought\nOslo,3,yes\nLima,5,no\nPune,,yes\nOslo,8,no\n")
    loaded = json.loads(_ok(_run([workbench, "--home", home, "ingest", sample, "--name", "x", "--json"],
                                 cwd=cwd)).stdout)
    assert (loaded["name"], loaded["rows"], loaded["columns"]) == ("x", 4, 3)
    assert [c["name"] for c in loaded["schema"]] == ["city", "visits", "bought"]
    listed = json.loads(_ok(_run([workbench, "--home", home, "datasets", "--json"], cwd=cwd)).stdout)
    assert [(d["name"], d["rows"], d["id"]) for d in listed] == [("x", 4, loaded["id"])]


def test_a_workspace_opened_from_the_wheel_loads_no_samples_and_does_not_crash(installed):
    """sample_data/ lives in the repository, not the wheel: seeding finds none and the workspace opens empty."""
    home = installed["tmp"] / "seeded"
    script = ("import json, sys; from core.data import samples; ws = samples.open_workspace(sys.argv[1]); "
              "print(json.dumps({'dir': str(samples.SAMPLE_DIR), 'datasets': [d.name for d in ws.datasets()]}))")
    out = json.loads(_ok(_run([installed["python"], "-c", script, home], cwd=installed["cwd"])).stdout)
    assert out["datasets"] == [] and not Path(out["dir"]).exists()
    # The one command that seeds the samples explains itself instead of failing with a traceback.
    demo = _run([installed["venv"] / "bin" / "workbench", "--home", home, "demo"], cwd=installed["cwd"])
    assert demo.returncode == 2 and "Traceback" not in demo.stderr
    assert demo.stderr.splitlines()[-1].startswith("error: The sample dataset 'churn' is not in the workspace")
