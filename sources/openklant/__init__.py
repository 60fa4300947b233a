"""Open Klant 2.x (the VNG Klantinteracties API): klantcontacten and internetaken as events.

`sources.openklant.models` holds the fields the mapping reads, named after the Klantinteracties
API's specification; `sources.openklant.mapping` the pure mapping. `contactmon ingest` receives
Open Klant's notifications (kanalen ``klantcontacten`` and ``internetaken``), fetches the
resource and hands it over.
"""
