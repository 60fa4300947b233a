"""The live worker's settings: Kafka (inherited) plus store, norms, metrics and timing.

Every field comes from a ``CONTACTMON_*`` environment variable (``CONTACTMON_STORE_URL``,
``CONTACTMON_METRICS_PORT``, …); a bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from streams.live.settings import KafkaSettings
from streams.store.base import DEFAULT_STORE_URL


class WorkerSettings(KafkaSettings):
    """Settings of ``contactmon worker``."""

    group_id: str = Field(default="contactmon", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    norms_file: Path | None = None  # None: the shipped norms
    store_url: str = DEFAULT_STORE_URL
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=6066, ge=1, le=65535)
    data_dir: Path = Path("contactmon-data")
    clock: Literal["wall", "event"] = "wall"
    lateness: float = Field(default=300.0, ge=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    checkpoint_interval: float = Field(default=5.0, gt=0)
    checkpoint_every: int = Field(default=10_000, ge=1)
    session_timeout: float = Field(default=30.0, ge=6)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
