"""Getting contact data that does not push into the monitor: ``contactmon publish`` (JSON Lines
files of contract events to Kafka) and ``contactmon import`` (Signalen's API, Fixi exports, call
records → contract events, to Kafka or a JSON Lines file).

The mappings are pure and live in `sources` (`sources.calls`, `sources.fixi`,
`sources.signalen`); this package holds the I/O around them: reading files (streamed, with
encoding detection), polling, the Kafka producer, rejects files, progress and summaries.
"""
