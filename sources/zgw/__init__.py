"""ZGW sources: the Notificaties API's messages and the Zaken and Catalogi resources behind them.

- `sources.zgw.models`: pydantic models of the fields the mapping relies on, named after the
  published OpenAPI specifications (Notificaties 1.0, Zaken 1.5, Catalogi 1.3); every fixture and
  every fetched response is validated with them.
- `sources.zgw.notification`: an incoming body (the Notificaties form, Open Notificaties'
  CloudEvents form, Open Zaak's experimental ``nl.overheid.zaken.zaak-*`` events) as one
  `Notificatie`.
- `sources.zgw.config`: the mapping configuration (RSIN → municipality, zaaktype → kind and
  category, communicatiekanaal → channel, which statustypes count as a response).
- `sources.zgw.mapping`: the pure mapping from a notification and the resources behind it to the
  contract's events. No I/O: `contactmon ingest` (`streams.ingest`) fetches, this decides.
- `sources.zgw.catalogus`: norm entries from ZaakType ``servicenorm`` / ``doorlooptijd``.
"""
