"""A fast, live-stamped demo of the whole chain, used by `make demo` and the end-to-end alert test.

Deadlines of working days cannot pass while someone watches, so the demo shrinks the *norms*, not
the events: ``FAST_NORMS`` holds melding-reactie as 20 seconds (same id, same target), the
generator stamps every event with the wall clock, and ``fast_rules`` renders the shipped alert
rules with every group evaluated each second and every ``for:`` shortened. Nothing here is used by
the worker itself.

    python -m streams.demo norms > norms-fast.yaml
    python -m streams.demo rules alerts/contactmon.rules.yml rules-fast.yml
    python -m streams.demo generate --bootstrap-servers 127.0.0.1:9092 --topic T --slip heiloo
    python -m streams.demo page http://127.0.0.1:6067/overzicht

``page`` prints what the overview page says of each municipality in one line, for the demo's
terminal ("Heiloo: onder doel"); the page itself is where to look.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")

FAST_NORMS = """\
# Demo only: melding-reactie in 20 seconds instead of 3 working days (same id and target).
norms:
  - id: melding-reactie
    applies_to: {kind: melding}
    stage: response
    within: 20
    unit: seconds
    target: 0.90
"""


def fast_rules(src: Path, dst: Path, *, for_: str = "2s", interval: str = "1s") -> Path:
    """The rules of ``src`` with every group evaluated each ``interval`` and every ``for:`` (and
    ``keep_firing_for:``) set to ``for_``, written to ``dst``."""
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    for group in data["groups"]:
        group["interval"] = interval
        for rule in group["rules"]:
            if "alert" in rule and "for" in rule:
                rule["for"] = for_
            if "alert" in rule and "keep_firing_for" in rule:
                rule["keep_firing_for"] = for_
    dst.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dst


def live_event(etype: str, slug: str, subject: str, **data: Any) -> bytes:
    """One contract event stamped with the wall clock."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"{etype}-{subject}",
            "source": f"urn:nld:gemeente:{slug}:fixi",
            "type": f"nl.contactmonitor.{etype}",
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": {"municipality": slug, **data},
        }
    )


class LiveGenerator(threading.Thread):
    """Two Fixi reports a second per municipality, answered after 3 s, or 40 s where it slips."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        slipping: Iterable[str] = (),
        municipalities: Sequence[str] = SLUGS,
        tag: str | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.slipping = frozenset(slipping)
        self.municipalities = tuple(municipalities)
        self.tag = tag or f"{time.time():.0f}"
        self.halt = threading.Event()
        self.rounds = 0

    def run(self) -> None:
        from kafka import KafkaProducer  # noqa: PLC0415  (only the generator needs Kafka)

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=5)
        due: list[tuple[float, str, str]] = []
        while not self.halt.is_set():
            now = time.monotonic()
            for slug in self.municipalities:
                subject = f"fixi-{self.tag}-{slug[:4]}-{self.rounds:06d}"
                raw = live_event("item.opened", slug, subject, kind="melding", channel="app")
                producer.send(self.topic, key=slug.encode(), value=raw)
                delay = 40.0 if slug in self.slipping else 3.0
                due.append((now + delay, slug, subject))
            ready = [d for d in due if d[0] <= now]
            for item in ready:
                due.remove(item)
                _, slug, subject = item
                producer.send(
                    self.topic, key=slug.encode(), value=live_event("item.responded", slug, subject)
                )
            self.rounds += 1
            producer.flush()
            self.halt.wait(0.5)
        producer.close()


_HEADLINE = re.compile(
    r'<h2 id="h-[^"]+">.*?</span>\s*([^<]+)</h2>\s*<p class="headline"><span class="badge \w+">'
    r"([^<]+)</span>",
    re.DOTALL,
)


def page_line(url: str) -> str:
    """``Bergen (NH): in orde · ... · Heiloo: onder doel``, read from the overview page at url."""
    with urllib.request.urlopen(f"{url}/inhoud", timeout=5) as response:
        text = response.read().decode("utf-8")
    found = [f"{html.unescape(name.strip())}: {words}" for name, words in _HEADLINE.findall(text)]
    return " · ".join(found) or "nog geen gemeenten"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.demo", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("norms", help="print the demo's fast norms file")
    rules = sub.add_parser("rules", help="render the alert rules with short `for:` and intervals")
    rules.add_argument("src", type=Path)
    rules.add_argument("dst", type=Path)
    rules.add_argument(
        "--for", dest="for_", default="30s", help="every alert's `for:` (default 30s)"
    )
    gen = sub.add_parser("generate", help="produce live-stamped Fixi reports until Ctrl-C")
    gen.add_argument("--bootstrap-servers", required=True)
    gen.add_argument("--topic", required=True)
    gen.add_argument(
        "--slip", nargs="*", default=[], metavar="SLUG", help="municipalities that answer late"
    )
    page = sub.add_parser("page", help="one line: each municipality's status on the overview page")
    page.add_argument("url", help="the overview page, e.g. http://127.0.0.1:6067/overzicht")
    args = parser.parse_args(argv)
    if args.what == "page":
        try:
            print(page_line(args.url))
        except OSError:
            print("?")
        return 0
    if args.what == "norms":
        sys.stdout.write(FAST_NORMS)
        return 0
    if args.what == "rules":
        fast_rules(args.src, args.dst, for_=args.for_)
        return 0
    generator = LiveGenerator(args.bootstrap_servers, args.topic, args.slip)
    generator.start()
    try:
        while generator.is_alive():
            generator.join(timeout=1)
    except KeyboardInterrupt:
        generator.halt.set()
        generator.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
