"""What the ZGW mapping needs to know that the Zaken API does not say: the mapping configuration.

Part of the ingest configuration file (``zgw:``, see docs/ingest.md):

```yaml
zgw:
  municipalities:            # bronorganisatie (RSIN) -> slug in the norms file
    "001234567": castricum
  zaaktypen:                 # by ZaakType URL or identificatie (stable across versions)
    KLACHT:    {kind: klacht, category: klacht, channel: webformulier}
    MOR:       {kind: melding, category: openbare-ruimte, channel: app}
  communicatiekanalen:       # Zaak.communicatiekanaal URL -> the contract's channel
    https://referentielijsten.example.nl/api/v1/communicatiekanalen/9a1f…: email
  responded:                 # which statuses count as the first reaction to the person
    statustypen: ["In behandeling"]   # StatusType URL or omschrijving
    informeren: true                   # or: every StatusType with `informeren`
```

Nothing here is secret; credentials come from the ingest service's settings.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.vocabulary import CHANNELS, KINDS, SEGMENTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZaaktypeMapping(_Strict):
    """The contract's words for zaken of one zaaktype."""

    kind: str
    category: str = Field(default="overig", min_length=1, max_length=64)
    channel: str = Field(description="the channel when the zaak names no known communicatiekanaal")
    segment: str = "onbekend"

    @model_validator(mode="after")
    def _known_words(self) -> Self:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {sorted(CHANNELS)}")
        if self.segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {sorted(SEGMENTS)}")
        return self


class RespondedRule(_Strict):
    """Which statuses are the first reaction to the person (``item.responded``)."""

    statustypen: list[str] = Field(default_factory=list)
    informeren: bool = False


class ZgwMapping(_Strict):
    """RSIN → municipality, zaaktype → kind/category/channel, kanaal → channel, responses."""

    municipalities: dict[str, str] = Field(default_factory=dict)
    zaaktypen: dict[str, ZaaktypeMapping] = Field(default_factory=dict)
    communicatiekanalen: dict[str, str] = Field(default_factory=dict)
    responded: RespondedRule = Field(default_factory=RespondedRule)
    source_system: str = Field(default="zgw", pattern=r"^[a-z0-9-]{1,32}$")

    @model_validator(mode="after")
    def _check(self) -> Self:
        for rsin in self.municipalities:
            if len(rsin) != 9 or not rsin.isdigit():
                raise ValueError(f"municipalities: {rsin!r} is not an RSIN (nine digits)")
        for url, channel in self.communicatiekanalen.items():
            if channel not in CHANNELS:
                raise ValueError(
                    f"communicatiekanalen.{url}: channel must be one of {sorted(CHANNELS)}"
                )
        return self

    def zaaktype(self, url: str, identificatie: str) -> ZaaktypeMapping | None:
        """The mapping of a zaaktype, by URL first, then by its identificatie."""
        return self.zaaktypen.get(url) or self.zaaktypen.get(identificatie)
