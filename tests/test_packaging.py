"""A regular (non-editable) install carries every file coacheval reads at run time.

The wheel is built from this source tree, installed into a fresh folder, and run from an
unrelated working directory, so the test holds whatever way the test environment installed
coacheval.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coacheval._resources import resource_dir

ROOT = Path(__file__).resolve().parents[1]
RESOURCE_FOLDERS = ("data_schema", "reports", "analyses")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("coacheval-*.whl")
    return built


def test_wheel_carries_every_runtime_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in RESOURCE_FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                packaged = (
                    f"coacheval/_resources/{folder}/{path.relative_to(ROOT / folder).as_posix()}"
                )
                assert packaged in names, packaged
    assert "coacheval/py.typed" in names


def test_installed_wheel_runs_the_demo_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import coacheval, coacheval._resources as r; print(coacheval.__file__); print(r.resource_origin())",
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        check=True,
    )
    location, origin = probe.stdout.split()
    assert Path(location).is_relative_to(target)
    assert origin == "package"
    demo = subprocess.run(
        [sys.executable, "-m", "coacheval", "demo", "--leaders", "100", "--out", "d"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert (workdir / "d" / "extracts" / "truth.json").exists()


@pytest.mark.parametrize("folder", RESOURCE_FOLDERS)
def test_resource_folders_resolve(folder):
    assert resource_dir(folder).is_dir()


def test_unknown_resource_folder_is_refused():
    with pytest.raises(ValueError, match="unknown resource folder"):
        resource_dir("secrets")
