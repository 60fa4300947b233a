"""Tests for `streams.simulate`: the generator, the scenarios and the ``simulate`` command."""

from __future__ import annotations

import argparse
import io
import re
import statistics
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from events.decode import Decoder, Rejection
from events.vocabulary import (
    CALL_CHANNELS,
    CHANNELS,
    EVENT_TYPES,
    KINDS,
    RESOLUTIONS,
    SEGMENTS,
    TYPE_PREFIX,
)
from streams.core.calendar import BusinessCalendar
from streams.core.deadlines import Unit, deadline
from streams.simulate.command import add_arguments, add_months, default_start, run
from streams.simulate.generator import (
    ZONE,
    Event,
    event_time,
    shuffle_arrival,
    simulate,
    write_jsonl,
)
from streams.simulate.profiles import DEFAULT_MUNICIPALITIES, SimulationError
from streams.simulate.scenarios import CASTRICUM_2023H1, SCENARIOS, castricum_2023h1

MARCH = (date(2024, 3, 1), date(2024, 4, 1))
CAL = BusinessCalendar()
TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
SUBJECT_SHAPE = re.compile(r"^(fixi-[0-9a-f]{6}|kcc-[0-9a-f]{8})$")
SOURCE_SHAPE = re.compile(r"^urn:nld:gemeente:(?P<slug>[a-z]+):(?P<system>fixi|kcc)$")
PHONE_LIKE = re.compile(r"\d{9,}|\+31")  # 06-12345678 has 10 digits; +31 6 …
HUMAN_ACTIONS = {"item.responded", "item.paused", "item.closed"}


def short(event: Event) -> str:
    """The short type name, e.g. ``item.opened``."""
    name: str = event["type"]
    return name.removeprefix(TYPE_PREFIX)


def lifecycles(events: list[Event]) -> dict[tuple[str, str], list[Event]]:
    """The events per (municipality, subject), in stream order."""
    found: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        found[event["data"]["municipality"], event["subject"]].append(event)
    return found


def first(events: list[Event], name: str) -> float | None:
    """The time of the first event of type ``name`` in one lifecycle, if any."""
    return next((event_time(e) for e in events if short(e) == name), None)


def in_office_hours(t: float) -> bool:
    """Whether ``t`` is 08:30–17:00 local on a working day."""
    local = datetime.fromtimestamp(t, ZONE)
    minutes = local.hour * 60 + local.minute
    return CAL.is_working_day(local.date()) and 8 * 60 + 30 <= minutes < 17 * 60


def melding_response_share(events: list[Event], slug: str) -> float:
    """The share of ``slug``'s reports responded to within 3 working days (melding-reactie)."""
    met = total = 0
    for (municipality, _), life in lifecycles(events).items():
        opened = life[0]
        if municipality != slug or short(opened) != "item.opened":
            continue
        if opened["data"]["kind"] != "melding":
            continue
        responded = first(life, "item.responded")
        if responded is None:  # withdrawn: excluded from the norm
            continue
        total += 1
        met += responded <= deadline(CAL, Unit.WORKDAYS, 3, event_time(opened))
    return met / total


def serialised(events: list[Event]) -> bytes:
    """The events as the JSON Lines bytes the command writes."""
    out = io.BytesIO()
    write_jsonl(events, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def march() -> list[Event]:
    """One month of all four municipalities, seed 1."""
    return simulate(*MARCH, seed=1)


@pytest.fixture(scope="module")
def scenario() -> list[Event]:
    """The Castricum 2023 H1 scenario, seed 1."""
    return castricum_2023h1(1)


class TestReproducible:
    """The same seed gives byte-identical output; another seed gives other events."""

    def test_same_seed_same_bytes(self, march: list[Event]) -> None:
        assert serialised(simulate(*MARCH, seed=1)) == serialised(march)

    def test_other_seed_differs(self, march: list[Event]) -> None:
        other = simulate(*MARCH, seed=2)
        assert serialised(other) != serialised(march)
        assert {e["id"] for e in other}.isdisjoint({e["id"] for e in march})

    def test_a_municipality_does_not_depend_on_its_companions(self, march: list[Event]) -> None:
        alone = simulate(*MARCH, ["castricum"], seed=1)
        together = [e for e in march if e["data"]["municipality"] == "castricum"]
        assert serialised(alone) == serialised(together)

    def test_scenario_is_reproducible(self, scenario: list[Event]) -> None:
        assert serialised(castricum_2023h1(1)) == serialised(scenario)


class TestContract:
    """Every event is a valid contract CloudEvent."""

    def test_every_line_decodes(self, march: list[Event]) -> None:
        decoder = Decoder(DEFAULT_MUNICIPALITIES)
        now = max(event_time(e) for e in march) + 1
        lines = serialised(march).splitlines()
        assert len(lines) == len(march)
        rejected = [
            r for r in (decoder.decode(line, now) for line in lines) if isinstance(r, Rejection)
        ]
        assert rejected == []

    def test_envelope(self, march: list[Event]) -> None:
        for event in march:
            assert event["specversion"] == "1.0"
            assert uuid.UUID(event["id"]).version == 4
            source = SOURCE_SHAPE.match(event["source"])
            assert source is not None
            assert source["slug"] == event["data"]["municipality"]
            assert event["subject"].startswith(source["system"] + "-")
            assert short(event) in EVENT_TYPES
            assert event["type"] == TYPE_PREFIX + short(event)
            assert TIME_SHAPE.match(event["time"])
            assert event["datacontenttype"] == "application/json"
            assert event["data"]["municipality"] in DEFAULT_MUNICIPALITIES

    def test_time_carries_the_amsterdam_offset(self, march: list[Event]) -> None:
        for event in march:
            parsed = datetime.fromisoformat(event["time"])
            assert parsed.utcoffset() == parsed.astimezone(ZONE).utcoffset()
        offsets = {e["time"][-6:] for e in march}
        assert offsets == {"+01:00", "+02:00"}  # March 2024 crosses the change to summer time

    def test_all_event_types_occur(self, march: list[Event]) -> None:
        assert {short(e) for e in march} == set(EVENT_TYPES)

    def test_ids_are_unique(self, march: list[Event]) -> None:
        assert len({(e["source"], e["id"]) for e in march}) == len(march)

    def test_data_fields(self, march: list[Event]) -> None:
        for event in march:
            data, name = event["data"], short(event)
            if name == "item.opened":
                assert data["kind"] in KINDS
                assert data["channel"] in CHANNELS
                assert data["segment"] in SEGMENTS
                assert data["source_system"] in {"fixi", "kcc"}
                assert isinstance(data["category"], str)
            elif name == "item.closed":
                assert data["resolution"] in RESOLUTIONS
            elif name == "call.queued":
                assert data["channel"] in CALL_CHANNELS
                assert data["segment"] in SEGMENTS
            elif name == "call.ended":
                assert isinstance(data["resolved"], bool)
            elif name == "feedback.given":
                assert data["channel"] in CHANNELS
                assert data["score"] in range(1, 11)
                assert data["about"] == event["subject"]


class TestOrder:
    """Events come in event-time order and every lifecycle makes sense."""

    def test_time_order(self, march: list[Event]) -> None:
        times = [event_time(e) for e in march]
        assert times == sorted(times)

    def test_scenario_time_order(self, scenario: list[Event]) -> None:
        times = [event_time(e) for e in scenario]
        assert times == sorted(times)

    def test_lifecycles(self, march: list[Event]) -> None:
        for life in lifecycles(march).values():
            opener = short(life[0])
            assert opener in {"item.opened", "call.queued"}
            names = [short(e) for e in life]
            assert names.count(opener) == 1
            responded, closed = first(life, "item.responded"), first(life, "item.closed")
            if responded is not None:
                assert closed is not None
                assert responded <= closed
            if opener == "call.queued":
                assert names[1] in {"call.answered", "call.abandoned"}
                if names[1] == "call.answered":
                    assert names[2] == "call.ended"

    def test_every_item_is_closed(self, march: list[Event]) -> None:
        for life in lifecycles(march).values():
            if short(life[0]) == "item.opened":
                assert short([e for e in life if short(e) != "feedback.given"][-1]) == "item.closed"

    def test_paused_items_resume(self, march: list[Event]) -> None:
        paused = 0
        for life in lifecycles(march).values():
            names = [short(e) for e in life]
            if "item.paused" in names:
                paused += 1
                assert names.index("item.paused") < names.index("item.resumed")
        assert paused > 0


class TestOfficeHours:
    """Staff act only in office hours on working days; people also at weekends."""

    def test_human_actions(self, march: list[Event]) -> None:
        for event in march:
            name = short(event)
            withdrawn = name == "item.closed" and event["data"]["resolution"] == "ingetrokken"
            if name in HUMAN_ACTIONS and not withdrawn:
                assert in_office_hours(event_time(event)), event["time"]

    def test_calls_are_queued_in_office_hours(self, march: list[Event]) -> None:
        queued = [e for e in march if short(e) == "call.queued"]
        assert all(in_office_hours(event_time(e)) for e in queued)

    def test_calls_are_answered_by_the_end_of_the_afternoon(self, march: list[Event]) -> None:
        # A call queued just before 17:00 is still answered: the queue is emptied.
        for event in march:
            if short(event) == "call.answered":
                local = datetime.fromtimestamp(event_time(event), ZONE)
                assert CAL.is_working_day(local.date())
                assert (8, 30) <= (local.hour, local.minute) < (17, 45), event["time"]

    def test_reports_also_at_weekends(self, march: list[Event]) -> None:
        weekend = [
            e
            for e in march
            if short(e) == "item.opened"
            and e["data"]["kind"] == "melding"
            and datetime.fromtimestamp(event_time(e), ZONE).weekday() >= 5
        ]
        assert len(weekend) > 20


class TestVolumes:
    """One month's volumes and shares are realistic."""

    @staticmethod
    def opened(events: list[Event], slug: str, kind: str) -> int:
        return sum(
            1
            for e in events
            if short(e) == "item.opened"
            and e["data"]["municipality"] == slug
            and e["data"]["kind"] == kind
        )

    def test_fixi_reports_scale_with_population(self, march: list[Event]) -> None:
        castricum = self.opened(march, "castricum", "melding")
        uitgeest = self.opened(march, "uitgeest", "melding")
        assert 160 <= castricum <= 250
        assert 55 <= uitgeest <= 110
        assert all(e["source"].endswith(":fixi") for e in march if e["subject"].startswith("fixi"))

    def test_other_kinds(self, march: list[Event]) -> None:
        totals = Counter(e["data"]["kind"] for e in march if short(e) == "item.opened")
        assert 280 <= totals["vraag"] <= 520
        assert 110 <= totals["terugbelverzoek"] <= 240
        assert 1 <= totals["klacht"] <= 20  # about 100 a year over all four
        assert 5 <= totals["aanvraag"] <= 45

    def test_phone_calls_per_working_day(self, march: list[Event]) -> None:
        days = sum(
            CAL.is_working_day(MARCH[0] + timedelta(n)) for n in range((MARCH[1] - MARCH[0]).days)
        )
        calls = [
            e
            for e in march
            if short(e) == "call.queued"
            and e["data"]["municipality"] == "castricum"
            and e["data"]["channel"] == "telefoon"
        ]
        assert 34 <= len(calls) / days <= 46

    def test_answer_speed_and_resolution(self, march: list[Event]) -> None:
        phone = {
            (e["data"]["municipality"], e["subject"])
            for e in march
            if short(e) == "call.queued" and e["data"]["channel"] == "telefoon"
        }
        waits, abandoned, resolved = [], 0, []
        for key, life in lifecycles(march).items():
            if key not in phone:
                continue
            answered = first(life, "call.answered")
            if answered is None:
                abandoned += 1
                continue
            waits.append(answered - event_time(life[0]))
            resolved.append(next(e for e in life if short(e) == "call.ended")["data"]["resolved"])
        within = sum(wait <= 30 for wait in waits) / len(waits)
        assert 0.75 <= within <= 0.88
        assert 0.03 <= abandoned / len(phone) <= 0.10
        assert 0.65 <= sum(resolved) / len(resolved) <= 0.75

    def test_segments(self, march: list[Event]) -> None:
        segments = Counter(
            e["data"]["segment"] for e in march if short(e) in {"item.opened", "call.queued"}
        )
        total = sum(segments.values())
        assert segments["inwoner"] / total > 0.7
        assert 0.07 <= segments["ondernemer"] / total <= 0.14
        assert 0.015 <= segments["maatschappelijke_partner"] / total <= 0.05
        assert segments["onbekend"] > 0

    def test_feedback_scores(self, march: list[Event]) -> None:
        scores = [e["data"]["score"] for e in march if short(e) == "feedback.given"]
        assert len(scores) > 100
        assert 6.5 <= statistics.mean(scores) <= 7.8
        assert Counter(scores).most_common(1)[0][0] in {7, 8}

    def test_withdrawn_reopened_and_complaints(self, march: list[Event]) -> None:
        closes = [e["data"] for e in march if short(e) == "item.closed"]
        resolutions = Counter(data["resolution"] for data in closes)
        assert 0 < resolutions["ingetrokken"] < 0.05 * len(closes)
        assert resolutions["doorgestuurd"] > 0
        assert 0 < sum(short(e) == "item.reopened" for e in march) < 0.05 * len(closes)
        complaints = {
            (e["data"]["municipality"], e["subject"])
            for e in march
            if short(e) == "item.opened" and e["data"]["kind"] == "klacht"
        }
        for key, life in lifecycles(march).items():
            if key in complaints:
                close = next(e for e in life if short(e) == "item.closed")["data"]
                assert close["resolution"] == "ingetrokken" or isinstance(close["upheld"], bool)


class TestNorms:
    """Most reports meet their norms; a slipping municipality misses the response norm."""

    def test_response_share_is_about_ninety_percent(self, march: list[Event]) -> None:
        for slug in DEFAULT_MUNICIPALITIES:
            assert 0.78 <= melding_response_share(march, slug) <= 0.98, slug

    def test_slip_raises_the_late_share(self, march: list[Event]) -> None:
        slipping = simulate(*MARCH, seed=1, slip={"heiloo"})
        assert melding_response_share(slipping, "heiloo") <= 0.6
        assert melding_response_share(march, "heiloo") >= 0.78
        others = [e for e in slipping if e["data"]["municipality"] != "heiloo"]
        assert serialised(others) == serialised(
            [e for e in march if e["data"]["municipality"] != "heiloo"]
        )

    def test_slip_must_name_a_simulated_municipality(self) -> None:
        with pytest.raises(SimulationError, match="heiloo"):
            simulate(*MARCH, ["castricum"], slip={"heiloo"})

    def test_unknown_municipality(self) -> None:
        with pytest.raises(SimulationError, match="zandvoort"):
            simulate(*MARCH, ["zandvoort"])

    def test_empty_period(self) -> None:
        with pytest.raises(SimulationError, match="empty"):
            simulate(MARCH[1], MARCH[0])


class TestPrivacy:
    """Nothing in the events looks like a name, e-mail address or phone number."""

    def test_no_email_addresses(self, march: list[Event], scenario: list[Event]) -> None:
        assert b"@" not in serialised(march) + serialised(scenario)

    def test_subjects_are_pseudonymous(self, march: list[Event], scenario: list[Event]) -> None:
        for event in [*march, *scenario]:
            assert SUBJECT_SHAPE.match(event["subject"])
            assert not event["subject"].split("-")[1].isdigit()

    def test_no_phone_numbers(self, march: list[Event]) -> None:
        for event in march:
            without_id = {key: value for key, value in event.items() if key != "id"}
            assert not PHONE_LIKE.search(orjson.dumps(without_id).decode())


class TestScenario:
    """The Castricum 2023 H1 scenario reproduces its figures exactly."""

    @staticmethod
    def reports(events: list[Event]) -> list[list[Event]]:
        return list(lifecycles(events).values())

    def test_registered(self) -> None:
        assert SCENARIOS["castricum_2023h1"].build is castricum_2023h1

    def test_reports(self, scenario: list[Event]) -> None:
        reports = self.reports(scenario)
        assert len(reports) == CASTRICUM_2023H1.reports == 1232
        for life in reports:
            opened = life[0]
            assert short(opened) == "item.opened"
            assert opened["data"]["kind"] == "melding"
            assert opened["data"]["source_system"] == "fixi"
            assert opened["data"]["municipality"] == "castricum"
            local = datetime.fromtimestamp(event_time(opened), ZONE).date()
            assert date(2023, 1, 1) <= local <= date(2023, 6, 30)
            assert [short(e) for e in life] == ["item.opened", "item.responded", "item.closed"]
            assert life[2]["data"]["resolution"] in {"afgehandeld", "doorgestuurd"}

    @pytest.mark.parametrize("seed", [1, 7])
    def test_exact_counts(self, seed: int, scenario: list[Event]) -> None:
        events = scenario if seed == 1 else castricum_2023h1(seed)
        responded_in_time = closed_in_time = 0
        for life in self.reports(events):
            opened, responded, closed = (event_time(e) for e in life)
            assert opened < responded <= closed
            response_due = deadline(CAL, Unit.WORKDAYS, 3, opened)
            close_due = deadline(CAL, Unit.WORKDAYS, 10, opened)
            assert responded != response_due
            assert closed != close_due
            responded_in_time += responded <= response_due
            closed_in_time += closed <= close_due
        assert responded_in_time == 1084
        assert closed_in_time == 1121

    def test_staff_act_in_office_hours(self, scenario: list[Event]) -> None:
        for event in scenario:
            if short(event) != "item.opened":
                assert in_office_hours(event_time(event)), event["time"]

    def test_follow_ups_run_into_july(self, scenario: list[Event]) -> None:
        assert scenario[-1]["time"] >= "2023-07"


class TestShuffle:
    """Shuffled arrival permutes events within the jitter, reproducibly."""

    def test_permutation_within_jitter(self, march: list[Event]) -> None:
        shuffled = shuffle_arrival(march, 30, seed=1)
        assert shuffled != march
        assert sorted(map(id, shuffled)) == sorted(map(id, march))
        latest = float("-inf")
        for event in shuffled:
            latest = max(latest, event_time(event))
            assert latest - event_time(event) <= 30 * 60

    def test_reproducible(self, march: list[Event]) -> None:
        assert shuffle_arrival(march, 30, seed=1) == shuffle_arrival(march, 30, seed=1)
        assert shuffle_arrival(march, 30, seed=1) != shuffle_arrival(march, 30, seed=2)

    def test_zero_minutes_keeps_order(self, march: list[Event]) -> None:
        assert shuffle_arrival(march, 0, seed=1) == march


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contactmon simulate")
    add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def tmp_out(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


class TestCommand:
    """`contactmon simulate` writes the generator's events and reports what it did."""

    def test_writes_the_generator_output(
        self, tmp_out: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = run(
            parse("--start", "2024-03-01", "--municipality", "uitgeest", "--out", str(tmp_out))
        )
        assert code == 0
        expected = simulate(*MARCH, ["uitgeest"], seed=1)
        assert tmp_out.read_bytes() == serialised(expected)
        summary = capsys.readouterr().err.strip()
        assert summary.startswith(f"contactmon simulate: {len(expected)} events written to ")
        assert "item.opened" in summary

    def test_months_and_seed(self, tmp_out: Path) -> None:
        argv = ("--start", "2024-02-01", "--months", "2", "--municipality", "uitgeest")
        assert run(parse(*argv, "--seed", "3", "--out", str(tmp_out))) == 0
        expected = simulate(date(2024, 2, 1), date(2024, 4, 1), ["uitgeest"], seed=3)
        assert tmp_out.read_bytes() == serialised(expected)

    def test_scenario(self, tmp_out: Path, scenario: list[Event]) -> None:
        assert run(parse("--scenario", "castricum_2023h1", "--out", str(tmp_out))) == 0
        assert tmp_out.read_bytes() == serialised(scenario)

    def test_shuffle(self, tmp_out: Path) -> None:
        argv = ("--start", "2024-03-01", "--municipality", "uitgeest", "--out", str(tmp_out))
        assert run(parse(*argv, "--shuffle-minutes", "20")) == 0
        lines = tmp_out.read_bytes().splitlines()
        events: list[Event] = [orjson.loads(line) for line in lines]
        times = [event_time(e) for e in events]
        assert times != sorted(times)
        assert serialised(shuffle_arrival(simulate(*MARCH, ["uitgeest"]), 20, 1)) == b"".join(
            line + b"\n" for line in lines
        )

    def test_leaves_out_the_future(self, tmp_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
        today = datetime.now(ZONE).date()
        argv = ("--start", today.isoformat(), "--end", (today + timedelta(days=3)).isoformat())
        assert run(parse(*argv, "--out", str(tmp_out))) == 0
        written = [orjson.loads(line) for line in tmp_out.read_bytes().splitlines()]
        now = datetime.now(ZONE).timestamp()
        assert all(event_time(e) <= now for e in written)
        assert "later than now left out" in capsys.readouterr().err

    def test_out_is_for_files_only(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(parse("--to", "kafka", "--out", "x.jsonl")) == 2
        assert "--out is for --to file" in capsys.readouterr().err

    def test_list_scenarios(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(parse("--list-scenarios")) == 0
        names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
        assert names == sorted(SCENARIOS)

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("--municipality", "zandvoort"), "zandvoort"),
            (("--municipality", "castricum", "--slip", "heiloo"), "heiloo"),
            (("--scenario", "castricum_2023h1", "--start", "2024-01-01"), "--start"),
            (("--start", "2024-03-01", "--end", "2024-03-01"), "empty"),
        ],
    )
    def test_usage_errors(
        self, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run(parse(*argv)) == 2
        assert message in capsys.readouterr().err

    def test_end_and_months_exclude_each_other(self) -> None:
        with pytest.raises(SystemExit):
            parse("--end", "2024-03-01", "--months", "2")

    def test_defaults(self) -> None:
        args = parse()
        assert (args.to, args.out, args.seed, args.shuffle_minutes) == ("file", "-", 1, 0.0)
        assert default_start(date(2024, 1, 15)) == date(2023, 12, 1)
        assert default_start(date(2024, 3, 31)) == date(2024, 2, 1)
        assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
        assert add_months(date(2024, 11, 1), 2) == date(2025, 1, 1)
