"""Command-line tools the tests check the deploy files with, installed by the project's scripts.

A tool that cannot be installed or run fails the test that needs it with the script's message;
no test skips for a missing tool.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@cache
def kustomize() -> str:
    """The path of the kustomize binary that `deploy/kustomize.sh install` built (once)."""
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "kustomize.sh"), "install"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"deploy/kustomize.sh install failed:\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


def kustomize_build(directory: Path) -> str:
    """The manifests `kustomize build` renders from ``directory``."""
    return subprocess.run(
        [kustomize(), "build", str(directory)], capture_output=True, text=True, check=True
    ).stdout


def systemd_analyze() -> str:
    """systemd-analyze (Debian's systemd package, on every Debian 12 machine this runs on)."""
    path = shutil.which("systemd-analyze")
    assert path is not None, "systemd-analyze is missing: apt-get install systemd"
    return path
