"""The compiled core (events.native): used only when built from the current sources, and the
pure-Python fallback still passes the core's tests."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from events import native
from streams.core.config import load_norms
from streams.live.faults import FaultInjectingMonitor
from tests.factories import opened

WALL = 4_102_444_800.0  # 2100-01-01

# The core's own tests, run again under pure Python when this process runs the compiled core.
CORE_TESTS = [
    "tests/unit/test_decode.py",
    "tests/unit/test_decoder_fuzz.py",
    "tests/unit/test_events_models.py",
    "tests/unit/test_calendar.py",
    "tests/unit/test_deadlines.py",
    "tests/unit/test_deadline_properties.py",
    "tests/unit/test_pauses.py",
    "tests/unit/test_pause_properties.py",
    "tests/unit/test_windows.py",
    "tests/unit/test_shard.py",
    "tests/unit/test_shard_parts.py",
    "tests/unit/test_duplicates.py",
    "tests/unit/test_poison.py",
    "tests/unit/test_personal_data.py",
    "tests/unit/test_snapshot.py",
    "tests/unit/test_metrics.py",
]


def module_files() -> dict[str, str]:
    names = [path.removesuffix(".py").replace("/", ".") for path in native.COMPILED]
    return {name: str(importlib.import_module(name).__file__) for name in names}


def source_tree(root: Path) -> Path:
    """A copy of the sources the digest covers."""
    for package in native.PACKAGES:
        (root / package).mkdir(parents=True)
        for path in (native.ROOT / package).glob("*.py"):
            shutil.copy(path, root / package / path.name)
    return root


class TestWhichCoreRuns:
    def test_every_compiled_module_or_none_is_in_use(self) -> None:
        files = module_files()
        if native.active():
            assert all(f.endswith(".so") and "/.native/" in f for f in files.values()), files
        else:
            assert all(f.endswith(".py") for f in files.values()), files

    def test_a_build_of_the_current_sources_is_used(self) -> None:
        manifest = native.NATIVE_DIR / native.MANIFEST
        built = manifest.exists() and (
            json.loads(manifest.read_text())["digest"] == native.sources_digest()
        )
        forced_pure = os.environ.get(native.PURE_VARIABLE, "") not in ("", "0")
        assert native.active() == (built and not forced_pure)

    def test_an_interpreted_subclass_of_the_monitor_still_works(self) -> None:
        """The fault injection of the integration tests subclasses the (compiled) Monitor."""
        m = FaultInjectingMonitor(load_norms(), "poison")
        assert m.process(opened("poison-1", "2024-05-13 10:00"), WALL) == "rejected"
        assert m.process(opened("fine-1", "2024-05-13 10:00"), WALL) == "accepted"
        (rejection,) = m.take_rejections()
        assert rejection.exception == "InjectedFault"


class TestStaleBuilds:
    """Which build may run is decided from the manifest and the sources alone."""

    @pytest.fixture(autouse=True)
    def _not_forced_pure(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(native.PURE_VARIABLE, raising=False)

    def write_manifest(self, native_dir: Path, digest: str) -> None:
        native_dir.mkdir()
        (native_dir / native.MANIFEST).write_text(json.dumps({"digest": digest}))

    def test_a_matching_build_is_used(self, tmp_path: Path) -> None:
        root = source_tree(tmp_path / "src")
        self.write_manifest(tmp_path / "native", native.sources_digest(root))
        assert native._verdict(tmp_path / "native", root) == (True, None)

    @pytest.mark.parametrize("edited", ["events/decode.py", "streams/core/metrics.py"])
    def test_an_edited_source_turns_the_build_off_with_a_warning(
        self, tmp_path: Path, edited: str
    ) -> None:
        root = source_tree(tmp_path / "src")
        self.write_manifest(tmp_path / "native", native.sources_digest(root))
        with (root / edited).open("a") as f:
            f.write("\n# edited\n")
        usable, warning = native._verdict(tmp_path / "native", root)
        assert not usable
        assert warning is not None
        assert "make install" in warning

    def test_a_new_source_file_turns_the_build_off(self, tmp_path: Path) -> None:
        root = source_tree(tmp_path / "src")
        self.write_manifest(tmp_path / "native", native.sources_digest(root))
        (root / "streams/core/new.py").write_text("X = 1\n")
        assert native._verdict(tmp_path / "native", root)[0] is False

    def test_no_build_means_pure_python_without_a_warning(self, tmp_path: Path) -> None:
        root = source_tree(tmp_path / "src")
        assert native._verdict(tmp_path / "native", root) == (False, None)

    def test_the_variable_forces_pure_python(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        root = source_tree(tmp_path / "src")
        self.write_manifest(tmp_path / "native", native.sources_digest(root))
        monkeypatch.setenv(native.PURE_VARIABLE, "1")
        assert native._verdict(tmp_path / "native", root) == (False, None)


def test_the_pure_python_fallback_passes_the_core_tests() -> None:
    """Forced to pure Python, the core tests pass (with the compiled core here, this is the only
    run of the fallback; without it, a second run of the same code, kept so nothing skips)."""
    env = {**os.environ, native.PURE_VARIABLE: "1"}
    check = "import events.native as n, events.decode as d; assert not n.active(), d.__file__"
    subprocess.run([sys.executable, "-c", check], env=env, check=True, cwd=native.ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *CORE_TESTS],
        env=env,
        cwd=native.ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " skipped" not in done.stdout.splitlines()[-1]  # the compiled-only skips ran here
