"""Checkpoints: a restored shard continues exactly where the original was."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core import snapshot
from streams.core.config import load_norms, parse_norms
from streams.core.monitor import Monitor
from streams.exposition import monitor_registry, render
from tests.unit.test_replay import month_file  # noqa: F401  (the fixture)

WALL = 4_102_444_800.0


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line]


class TestRoundTrip:
    """Stopping half-way, checkpointing and restoring changes no figure."""

    def test_restored_monitor_ends_like_an_uninterrupted_one(self, month_file: Path) -> None:  # noqa: F811
        config = load_norms()
        lines = lines_of(month_file)
        whole = Monitor(config)
        for raw in lines:
            whole.process(raw, WALL)
        whole.finish()

        first = Monitor(config)
        half = len(lines) // 2
        for raw in lines[:half]:
            first.process(raw, WALL)
        data = snapshot.dump(first.shards.values(), config)
        second = Monitor(config)
        for shard in snapshot.load(data, config, lateness=second.lateness, track_changes=False)[0]:
            second.shards[shard.municipality] = shard
        second.rejected.update(first.rejected)
        for raw in lines[half:]:
            second.process(raw, WALL)
        second.finish()
        assert render(monitor_registry(second)) == render(monitor_registry(whole))

    def test_only_the_given_shards_are_in_the_checkpoint(self) -> None:
        config = load_norms()
        m = Monitor(config)
        data = snapshot.dump([m.shards["heiloo"]], config)
        restored, _ = snapshot.load(data, config, lateness=300, track_changes=False)
        assert [s.municipality for s in restored] == ["heiloo"]


class TestRefusals:
    """A checkpoint made under other rules, or garbage, is refused with a way out."""

    def test_changed_norm_rules_are_refused(self) -> None:
        config = load_norms()
        data = snapshot.dump([Monitor(config).shards["castricum"]], config)
        text = Path(config.source).read_text().replace("within: 3\n", "within: 4\n", 1)
        changed = parse_norms(text)
        with pytest.raises(snapshot.SnapshotError, match="rebuild"):
            snapshot.load(data, changed, lateness=300, track_changes=False)

    def test_a_changed_target_is_fine(self) -> None:
        config = load_norms()
        data = snapshot.dump([Monitor(config).shards["castricum"]], config)
        text = Path(config.source).read_text().replace("target: 0.90", "target: 0.95", 1)
        (shard,), _ = snapshot.load(data, parse_norms(text), lateness=300, track_changes=False)
        assert shard.norms[0].target == 0.95

    def test_garbage_is_refused(self) -> None:
        with pytest.raises(snapshot.SnapshotError, match="cannot be read"):
            snapshot.load(b"not a checkpoint", load_norms(), lateness=300, track_changes=False)
