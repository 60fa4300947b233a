"""Checkpoints: a restored shard continues exactly where the original was; a checkpoint is plain
data that is checked before use, and nothing in it can run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import snapshot
from streams.core.config import load_norms, parse_norms
from streams.core.monitor import Monitor
from streams.exposition import monitor_registry, render
from tests.factories import event, opened
from tests.unit.test_replay import month_file  # noqa: F401  (the fixture)

WALL = 4_102_444_800.0


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line]


def restored_copy(m: Monitor) -> Monitor:
    """A new monitor holding what a checkpoint of every shard of ``m`` holds."""
    data = snapshot.dump(m.shards.values(), m.config, extra={"rejected": dict(m.rejected)})
    parts, extra = snapshot.load(data, m.config)
    copy = Monitor(m.config, lateness=m.lateness)
    for slug, p in parts.items():
        copy.adopt(slug, p)
    copy.rejected.update(extra["rejected"])
    return copy


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
        second = restored_copy(first)
        for raw in lines[half:]:
            second.process(raw, WALL)
        second.finish()
        assert render(monitor_registry(second)) == render(monitor_registry(whole))

    def test_a_checkpoint_of_a_checkpoint_is_the_same_bytes(self, month_file: Path) -> None:  # noqa: F811
        m = Monitor(load_norms())
        for raw in lines_of(month_file)[:3000]:
            m.process(raw, WALL)
        data = snapshot.dump(m.shards.values(), m.config)
        again = restored_copy(m)
        assert snapshot.dump(again.shards.values(), again.config) == data

    def test_only_the_given_shards_are_in_the_checkpoint(self) -> None:
        config = load_norms()
        m = Monitor(config)
        restored, _ = snapshot.load(snapshot.dump([m.shards["heiloo"]], config), config)
        assert list(restored) == ["heiloo"]


def category_events(start: int, stop: int) -> list[bytes]:
    """Items of twelve categories, in turns, numbered start..stop - 1: c0..c9 reach their
    twentieth item (and get a slot) from item 20 on, c10 and c11 find no slot left."""
    raws = []
    for i in range(start, stop):
        for c in range(12):
            raws.append(opened(f"c{c}-{i}", f"2024-05-13 {8 + i // 10:02d}:00", category=f"c{c}"))
            if i % 3 == 0:
                raws.append(event("item.responded", f"c{c}-{i}", "2024-05-14 10:00"))
    return raws


def as_format_3(data: bytes) -> bytes:
    """A format 4 checkpoint without category slots written as format 3 wrote it."""
    payload = orjson.loads(data)
    payload["version"] = 3
    for entry in payload["shards"].values():
        parts = entry["parts"]
        assert parts["totals"].pop("categories")["slots"] == []  # format 3 counted no category
        parts["profiles"] = [row[:-1] for row in parts["profiles"]]
        for row in parts["index"]:
            if row[3] is not None:
                row[3] = row[3][::11]  # the overig group of each segment
        totals = parts["totals"]
        totals["outcomes_total"] = [[n, s, o, v] for n, s, _, o, v in totals["outcomes_total"]]
        totals["overdue_decided"] = [per[::11] for per in totals["overdue_decided"]]
    return orjson.dumps(payload)


def without_category(m: Monitor) -> dict[tuple[object, ...], float]:
    """The category-split series summed without the category label."""
    sums: dict[tuple[object, ...], float] = {}
    for family in monitor_registry(m).collect():
        for sample in family.samples:
            if "category" in sample.labels:
                key = (
                    sample.name,
                    *sorted(kv for kv in sample.labels.items() if kv[0] != "category"),
                )
                sums[key] = sums.get(key, 0) + sample.value
    return sums


class TestCategorySlots:
    """The metrics' category slots are part of the checkpoint; format 3 still loads."""

    @pytest.mark.parametrize("cut", [5, 19, 20, 21, 30])
    def test_a_restored_worker_exports_the_same_series(self, cut: int) -> None:
        config = load_norms()
        whole, first = Monitor(config, lateness=0), Monitor(config, lateness=0)
        for raw in category_events(0, 40):
            whole.process(raw, WALL)
        for raw in category_events(0, cut):
            first.process(raw, WALL)
        second = restored_copy(first)
        slots = second.shards["castricum"].totals.categories
        assert (slots.names, slots.counts) == (
            first.shards["castricum"].totals.categories.names,
            first.shards["castricum"].totals.categories.counts,
        )
        for raw in category_events(cut, 40):
            second.process(raw, WALL)
        for m in (whole, second):
            m.finish(1_720_000_000.0)
        text = render(monitor_registry(second))
        assert text == render(monitor_registry(whole))
        assert b'category="c9"' in text
        assert b'category="c10"' not in text

    def test_a_format_3_checkpoint_still_loads(self) -> None:
        config = load_norms()
        m = Monitor(config, lateness=0)
        for raw in category_events(0, 15):  # no category has a slot yet
            m.process(raw, WALL)
        m.advance(1_715_900_000.0)  # some breached and overdue, some still waiting
        old = as_format_3(snapshot.dump(m.shards.values(), config))
        parts, _ = snapshot.load(old, config)
        copy = Monitor(config, lateness=0)
        for slug, p in parts.items():
            copy.adopt(slug, p)
        assert render(monitor_registry(copy)) == render(monitor_registry(m))
        for raw in category_events(15, 40):  # slots are handed out after the restore, counting
            copy.process(raw, WALL)  # from then on: later than without the restore
            m.process(raw, WALL)
        assert copy.shards["castricum"].totals.categories.names == [f"c{c}" for c in range(10)]
        assert without_category(copy) == without_category(m)
        assert without_category(copy) != without_category(Monitor(config))

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("profiles", 0, 8), 3),  # a slot the category does not have
            (("totals", "categories", "slots"), ["overig"]),
            (("totals", "categories", "slots"), [f"c{c}" for c in range(11)]),
            (("totals", "categories", "counts"), [["c0", 0]]),
            (("totals", "outcomes_total", 0, 2), "c77"),  # a category without a slot
        ],
    )
    def test_damaged_category_slots_are_refused(
        self, path: tuple[object, ...], value: object
    ) -> None:
        config = load_norms()
        m = Monitor(config, lateness=0)
        for raw in category_events(0, 25):
            m.process(raw, WALL)
        payload = orjson.loads(snapshot.dump([m.shards["castricum"]], config))
        target = payload["shards"]["castricum"]["parts"]
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]
        with pytest.raises(snapshot.SnapshotError, match="damaged"):
            snapshot.load(orjson.dumps(payload), config)


PAUSABLE = """
norms:
  - {id: reactie, applies_to: {kind: aanvraag}, stage: response, within: 3, unit: workdays,
     target: 0.9, pausable: true}
  - {id: opname, applies_to: {family: call, channel: telefoon}, stage: answer, within: 30,
     unit: seconds, target: 0.8}
"""
STEPS = st.sampled_from(
    ["item.paused", "item.resumed", "item.responded", "item.closed", "item.reopened"]
)


class TestRoundTripProperty:
    """Any mix of items, pauses, calls, feedback and held events survives a checkpoint exactly."""

    @settings(max_examples=60, deadline=None)
    @given(
        steps=st.lists(
            st.tuples(st.integers(0, 3), STEPS, st.integers(1, 60 * 24 * 20)), max_size=25
        ),
        cut=st.integers(0, 40),
    )
    def test_checkpoint_anywhere_changes_nothing(
        self, steps: list[tuple[int, str, int]], cut: int
    ) -> None:
        config = parse_norms(PAUSABLE)
        raws = [
            opened(f"a{i}", "2026-03-02 09:00", kind="aanvraag", channel="email") for i in range(3)
        ]
        raws.append(event("item.responded", "early", "2026-03-02 09:30"))  # held: never opened
        raws.append(event("call.queued", "c1", "2026-03-02 09:00", channel="telefoon"))
        raws.append(event("feedback.given", None, "2026-03-02 10:00", channel="app", score=8))
        for subject, kind, minutes in sorted(steps, key=lambda s: s[2]):
            day, minute = divmod(minutes, 60 * 24)
            when = f"2026-03-{3 + day:02d} {minute // 60:02d}:{minute % 60:02d}"
            raws.append(event(kind, f"a{subject}", when))
        cut = min(cut, len(raws))
        whole, first = Monitor(config, lateness=600), Monitor(config, lateness=600)
        for raw in raws:
            whole.process(raw, WALL)
        for raw in raws[:cut]:
            first.process(raw, WALL)
        second = restored_copy(first)
        for raw in raws[cut:]:
            second.process(raw, WALL)
        for m in (whole, second):
            m.finish(1_800_000_000.0)
        assert render(monitor_registry(second)) == render(monitor_registry(whole))


class TestRefusals:
    """A checkpoint made under other rules, of another format, or tampered with is refused."""

    def test_changed_norm_rules_are_refused(self) -> None:
        config = load_norms()
        data = snapshot.dump([Monitor(config).shards["castricum"]], config)
        text = Path(config.source).read_text().replace("within: 3\n", "within: 4\n", 1)
        with pytest.raises(snapshot.SnapshotError, match="rebuild"):
            snapshot.load(data, parse_norms(text))

    def test_a_changed_target_is_fine(self) -> None:
        config = load_norms()
        data = snapshot.dump([Monitor(config).shards["castricum"]], config)
        text = Path(config.source).read_text().replace("target: 0.90", "target: 0.95", 1)
        changed = parse_norms(text)
        parts, _ = snapshot.load(data, changed)
        m = Monitor(changed)
        m.adopt("castricum", parts["castricum"])
        assert m.shards["castricum"].norms[0].target == 0.95

    def test_garbage_is_refused(self) -> None:
        with pytest.raises(snapshot.SnapshotError, match="cannot be read"):
            snapshot.load(b"not a checkpoint", load_norms())

    def test_an_old_pickle_checkpoint_is_refused_unread(self) -> None:
        class Boom:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (exec, ("raise SystemExit('pickle was loaded')",))

        data = pickle.dumps({"version": 2, "shards": Boom()}, protocol=pickle.HIGHEST_PROTOCOL)
        with pytest.raises(snapshot.SnapshotError, match=r"older contactmon.*--rebuild"):
            snapshot.load(data, load_norms())

    def test_another_version_says_what_to_do(self) -> None:
        config = load_norms()
        payload = orjson.loads(snapshot.dump([Monitor(config).shards["heiloo"]], config))
        payload["version"] = 99
        with pytest.raises(snapshot.SnapshotError, match=r"version 99.*--rebuild"):
            snapshot.load(orjson.dumps(payload), config)

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("items", 0, 2), "yesterday"),  # opened_at not a number
            (("items", 0, 7), "abc"),  # event keys not hex
            (("items", 0, 1), 99),  # a profile that does not exist
            (("totals", "events_total"), {"item.opened": 1}),  # counters missing
            (("index", 0, 0), 42),  # a norm that does not exist
            (("clock",), ["now"]),
            (("held",), ["not base64!"]),
        ],
    )
    def test_a_tampered_checkpoint_is_refused(
        self, path: tuple[object, ...], value: object
    ) -> None:
        config = load_norms()
        m = Monitor(config)
        for raw in (
            opened("f1", "2024-05-13 10:00"),
            event("item.paused", "f1", "2024-05-13 11:00"),
        ):
            m.process(raw, WALL)
        m.process(event("item.responded", "zz", "2024-05-13 11:30"), WALL)  # held
        payload = orjson.loads(snapshot.dump([m.shards["castricum"]], config))
        target = payload["shards"]["castricum"]["parts"]
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]
        with pytest.raises(snapshot.SnapshotError, match="damaged"):
            snapshot.load(orjson.dumps(payload), config)
