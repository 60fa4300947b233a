"""Source adapters: what real systems send (ZGW Notificaties, Open Klant, Signalen, Fixi exports,
call records) mapped to the contract's events. The mappings are pure functions; I/O lives in the
commands that use them (`contactmon ingest`, `contactmon import ...`, `contactmon publish`).

Shared by every adapter: `sources.pseudonym` turns source identifiers into the contract's
pseudonymous subjects and deterministic event ids, so no raw source id reaches Kafka and a source
record delivered twice becomes a duplicate, not a second event.
"""
