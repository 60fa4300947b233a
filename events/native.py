"""The compiled core: the hot modules built with mypyc, used only when built from these sources.

``make install`` runs ``python -m streams.native_build``, which compiles `COMPILED` (the decoder
and the modules of ``streams.core`` that every event passes through) into ``.native/`` beside the
packages, never next to the sources. ``events/__init__.py`` and ``streams/core/__init__.py`` call
`use_compiled`, which puts the compiled modules first on the package's ``__path__`` only when
``.native/manifest.json`` records the digest of the current sources (every ``.py`` file of
``events/`` and ``streams/core/``, whose types mypyc compiled against) and of this Python. So an
edited source can never be shadowed by a stale compiled module: after any edit the whole core
runs as pure Python (with one warning saying so) until the next ``make install``. The compiled
modules call each other directly, so they are used all together or not at all.

Without a build (a wheel install, a failed build) the core is plain Python: the same code, at about
half the speed. ``CONTACTMON_PURE_PYTHON=1`` forces that (tests/unit/test_native.py runs the core
tests so, to keep the fallback honest).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE_DIR = ROOT / ".native"
MANIFEST = "manifest.json"
PURE_VARIABLE = "CONTACTMON_PURE_PYTHON"
PACKAGES = ("events", "streams/core")  # every .py file here is part of the digest

COMPILED = (
    "events/errors.py",
    "events/personal.py",
    "events/decode.py",
    "streams/core/state.py",
    "streams/core/calendar.py",
    "streams/core/deadlines.py",
    "streams/core/norm_deadlines.py",
    "streams/core/deadline_index.py",
    "streams/core/windows.py",
    "streams/core/aggregates.py",
    "streams/core/seen_keys.py",
    "streams/core/held.py",
    "streams/core/feedback.py",
    "streams/core/parts.py",
    "streams/core/lifecycle.py",
    "streams/core/items.py",
    "streams/core/calls.py",
    "streams/core/shard.py",
    "streams/core/monitor.py",
)
"""Not compiled: the enums of ``events.vocabulary`` (mypyc drops class docstrings, which the JSON
schemas show), the pydantic models and the norms file, and what runs per read-out or checkpoint
rather than per event (metrics, snapshot, parts_codec, changes, rows)."""

_active: bool | None = None


def sources_digest(root: Path = ROOT) -> str:
    """SHA-256 over this Python's tag and the path and bytes of every source the build used."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            digest.update(f"\0{package}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _verdict(native_dir: Path, root: Path) -> tuple[bool, str | None]:
    """Whether the build in ``native_dir`` may be used, and a warning when it exists but may not."""
    if os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        return False, None
    try:
        manifest = json.loads((native_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return False, None  # never built, or the build failed: pure Python, as installed
    if manifest.get("digest") != sources_digest(root):
        return False, (
            f"the compiled core in {native_dir} was built from other sources (or another Python); "
            "running the core as pure Python until `make install` rebuilds it"
        )
    return True, None


def _load_group(native_dir: Path) -> bool:
    """Import the shared library the compiled modules call into (one per build)."""
    manifest = json.loads((native_dir / MANIFEST).read_text())
    name, path = manifest["group"], native_dir / manifest["group_file"]
    if name in sys.modules:
        return True
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return True


def active() -> bool:
    """True when this process runs the compiled core (decided once, on first use)."""
    global _active  # noqa: PLW0603 - one decision per process, before the first compiled import
    if _active is None:
        usable, warning = _verdict(NATIVE_DIR, ROOT)
        if warning is not None:
            warnings.warn(warning, RuntimeWarning, stacklevel=3)
        _active = usable and _load_group(NATIVE_DIR)
    return _active


def use_compiled(package: str, path: list[str]) -> None:
    """Put the compiled modules of ``package`` (``events``, ``streams.core``) before its sources."""
    if active():
        path.insert(0, str(NATIVE_DIR / package.replace(".", "/")))
