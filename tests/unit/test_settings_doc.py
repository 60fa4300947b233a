"""Tests for `streams.live.settings_doc`: worker --help and the README table come from the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from streams.cli import main as cli_main
from streams.live.settings import KafkaSettings, WorkerSettings
from streams.live.settings_doc import (
    README_END,
    README_START,
    describe,
    help_text,
    main,
    markdown_table,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CANARY = "canary-Default-9c1d"  # a secret's default, which no documentation may show


class WithSecretDefault(KafkaSettings):
    """A model whose secret has a default: the documentation must not show it."""

    api_token: SecretStr = Field(default=SecretStr(CANARY), description="a token")


class Undocumented(KafkaSettings):
    """A model with a field that has no description."""

    mystery: int = 1


@pytest.fixture
def worker_help(capsys: pytest.CaptureFixture[str]) -> str:
    """What `contactmon worker --help` prints."""
    with pytest.raises(SystemExit) as exited:
        cli_main(["worker", "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


class TestDescribe:
    """Each field becomes one documented variable: name, values, default and description."""

    def test_one_entry_per_field_in_the_models_order(self) -> None:
        names = [setting.variable for setting in describe(WorkerSettings)]
        assert names == [WorkerSettings.env_name(field) for field in WorkerSettings.model_fields]

    def test_values_and_defaults_come_from_the_fields(self) -> None:
        by_name = {setting.variable: setting for setting in describe(WorkerSettings)}
        partitions = by_name["CONTACTMON_PARTITIONS"]
        assert (partitions.values(" | "), partitions.default) == ("integer >= 1", "12")
        port = by_name["CONTACTMON_METRICS_PORT"]
        assert (port.values(" | "), port.default) == ("integer from 1 to 65535", "6066")
        sweep = by_name["CONTACTMON_SWEEP_INTERVAL"]
        assert (sweep.values(" | "), sweep.default) == ("number > 0", "5")
        clock = by_name["CONTACTMON_CLOCK"]
        assert (clock.values(" | "), clock.default) == ("wall | event", "wall")
        assert by_name["CONTACTMON_SSL_CAFILE"].values(" | ") == "file path"
        assert by_name["CONTACTMON_NORMS_FILE"].default is None

    def test_secrets_have_no_default(self) -> None:
        (token,) = [s for s in describe(WithSecretDefault) if s.variable.endswith("API_TOKEN")]
        assert token.secret
        assert token.default is None
        assert CANARY not in help_text(WithSecretDefault)
        assert CANARY not in markdown_table(WithSecretDefault)

    def test_a_field_without_description_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"Undocumented\.mystery has no description"):
            describe(Undocumented)


class TestWorkerHelp:
    """`contactmon worker --help` lists every variable with the model's default."""

    def test_lists_every_variable(self, worker_help: str) -> None:
        for field in WorkerSettings.model_fields:
            assert f"  {WorkerSettings.env_name(field)}  (" in worker_help, field

    def test_defaults_are_the_models(self, worker_help: str) -> None:
        assert "CONTACTMON_PARTITIONS  (integer >= 1; default 12)" in worker_help
        assert "CONTACTMON_CHECKPOINT_EVERY  (integer >= 1; default 10000)" in worker_help

    def test_the_password_is_marked_secret(self, worker_help: str) -> None:
        assert "CONTACTMON_SASL_PASSWORD  (text; a secret: no default shown)" in worker_help

    def test_is_the_generated_text(self, worker_help: str) -> None:
        assert help_text(WorkerSettings) in worker_help


class TestReadme:
    """The README's settings block is the generated one; `--check` and the rewrite agree."""

    def test_the_block_is_up_to_date(self) -> None:
        text = README.read_text(encoding="utf-8")
        assert text.count(README_START) == 1
        assert text.count(README_END) == 1
        assert replace_block(text) == text, (
            "README.md's settings block is stale: run `make settings-doc`"
        )

    def test_the_block_holds_the_table(self) -> None:
        text = README.read_text(encoding="utf-8")
        block = text[text.index(README_START) : text.index(README_END)]
        assert markdown_table(WorkerSettings) in block

    def test_check_and_rewrite(self, tmp_path: Path) -> None:
        readme = tmp_path / "README.md"
        readme.write_text(f"# x\n\nbefore\n\n{README_START}\nstale-row\n{README_END}\n\nafter\n")
        assert main([str(readme), "--check"]) == 1
        assert main([str(readme)]) == 0
        assert main([str(readme), "--check"]) == 0
        text = readme.read_text(encoding="utf-8")
        assert text.startswith("# x\n\nbefore\n\n<!-- settings:start -->\n")
        assert text.endswith(f"{README_END}\n\nafter\n")
        assert "stale-row" not in text

    def test_missing_markers(self, tmp_path: Path) -> None:
        readme = tmp_path / "README.md"
        readme.write_text("# no block\n")
        assert main([str(readme), "--check"]) == 2
        with pytest.raises(ValueError, match="settings:start"):
            replace_block("# no block\n")
