"""The deployment manifests set only CONTACTMON_* settings the model has, and no secret literally.

Checked: deploy/k8s/** (every file), deploy/docker-compose.yml and deploy/docker/Dockerfile. A
misspelt or removed variable would be ignored by the worker in silence (the model ignores unknown
variables), so every ``CONTACTMON_*`` name in these files must be a field of `WorkerSettings`;
the compose file's own interpolation variables are the one listed exception. The ingest files
(``deploy/k8s/base/ingest-*``) are held to `IngestSettings` instead, plus the pseudonymisation key
and the Authorization variables their configuration names; files that configure both (the
kustomization, the compose file) to either. A secret field (`KafkaSettings.secret_fields`,
`IngestSettings.secret_fields`, the pseudonymisation key, the Authorization values) may only come
from a Kubernetes Secret or from the environment compose runs in, never as a value written in a
manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sources.pseudonym import KEY_FILE_VARIABLE, KEY_VARIABLE
from streams.ingest.config import IngestFile
from streams.ingest.settings import IngestSettings
from streams.live.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
SECRET_TEMPLATE = K8S / "base" / "kafka-credentials.secret.example.yaml"
INGEST_SECRET_TEMPLATE = K8S / "base" / "ingest-credentials.secret.example.yaml"
INGEST_CONFIG = K8S / "base" / "ingest-config.yaml"

VARIABLE = re.compile(r"\bCONTACTMON_[A-Z0-9_]+\b")
SETTINGS = {WorkerSettings.env_name(field) for field in WorkerSettings.model_fields}
WORKER_SECRETS = {WorkerSettings.env_name(field) for field in WorkerSettings.secret_fields()}
AUTHORIZATION = {
    s.authorization_env
    for s in IngestFile.model_validate(
        yaml.safe_load(INGEST_CONFIG.read_text("utf-8"))
    ).subscriptions
}
INGEST_SETTINGS = {IngestSettings.env_name(field) for field in IngestSettings.model_fields} | {
    KEY_VARIABLE,
    KEY_FILE_VARIABLE,
    *AUTHORIZATION,
}
INGEST_SECRETS = {IngestSettings.env_name(field) for field in IngestSettings.secret_fields()} | {
    KEY_VARIABLE,
    *AUTHORIZATION,
}
SECRETS = WORKER_SECRETS | INGEST_SECRETS
# Variables of the compose file itself (``${NAME:-default}``), documented in deploy/README.md:
# they fill in the manifest and never reach the worker under their own name.
COMPOSE_VARIABLES = {"CONTACTMON_DB_PASSWORD", "CONTACTMON_DEMO_START"}
# A value that only refers to the environment compose runs in, without a default to fall back on.
INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$")
PLACEHOLDER = re.compile(r"^<[^<>]+>$")


def k8s_files() -> list[Path]:
    return sorted(path for path in K8S.rglob("*") if path.is_file())


def k8s_documents(paths: list[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in paths:
        if path.suffix in (".yaml", ".yml"):
            for document in yaml.safe_load_all(path.read_text("utf-8")):
                if document is not None:
                    yield path, document


def env_entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every container ``env`` entry (``{name, value | valueFrom}``) anywhere in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            else:
                yield from env_entries(value)
    elif isinstance(node, list):
        for item in node:
            yield from env_entries(item)


def allowed_names(path: Path) -> set[str]:
    """The CONTACTMON_* names ``path`` may hold: the worker's, ingest's, or both."""
    if path.name.startswith("ingest-"):
        return INGEST_SETTINGS
    if path == COMPOSE:
        return SETTINGS | INGEST_SETTINGS | COMPOSE_VARIABLES
    if path.name == "kustomization.yaml":
        return SETTINGS | INGEST_SETTINGS
    return SETTINGS


def literal_secrets_in_k8s(documents: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Where a secret setting gets a value written in a manifest (the Secret templates aside)."""
    found = []
    for path, document in documents:
        if path in (SECRET_TEMPLATE, INGEST_SECRET_TEMPLATE):
            continue
        for entry in env_entries(document):
            if entry.get("name") in SECRETS and "secretKeyRef" not in entry.get("valueFrom", {}):
                found.append(f"{path.name}: env {entry['name']} is not from a secretKeyRef")
        if document.get("kind") in ("ConfigMap", "Secret"):
            for section in ("data", "stringData"):
                found += [
                    f"{path.name}: {document['kind']} sets {key}"
                    for key in document.get(section) or {}
                    if key in SECRETS
                ]
        for generator in document.get("configMapGenerator", []) + document.get(
            "secretGenerator", []
        ):
            found += [
                f"{path.name}: generator {generator['name']} sets {name}"
                for name in (item.split("=", 1)[0] for item in generator.get("literals", []))
                if name in SECRETS
            ]
    return found


def compose_environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's ``environment``, as a mapping whether written as a mapping or as a list."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in environment)
        return dict(pairs)
    return {name: None if value is None else str(value) for name, value in environment.items()}


def literal_secrets_in_compose(compose: dict[str, Any]) -> list[str]:
    """Where a secret setting gets a value written in the compose file."""
    found = []
    for name, service in compose["services"].items():
        for variable, value in compose_environment(service).items():
            # no value: passed through from compose's environment; ${VAR}: the same, by name
            if variable in SECRETS and value is not None and not INTERPOLATION.match(value):
                found.append(f"service {name}: {variable} has a value written in the file")
    return found


class TestVariablesExist:
    """Every CONTACTMON_* name in the manifests is a setting of the worker, spelt as the model."""

    @pytest.mark.parametrize(
        "path", [*k8s_files(), COMPOSE, DOCKERFILE], ids=lambda p: str(p.relative_to(DEPLOY))
    )
    def test_every_name_is_a_setting(self, path: Path) -> None:
        names = set(VARIABLE.findall(path.read_text("utf-8")))
        allowed = allowed_names(path)
        assert names <= allowed, f"not settings of the worker: {sorted(names - allowed)}"

    def test_the_ingest_files_are_held_to_the_ingest_settings(self) -> None:
        assert INGEST_CONFIG in k8s_files()
        for name in ("ingest-deployment.yaml", "ingest-config.yaml"):
            assert allowed_names(K8S / "base" / name) == INGEST_SETTINGS
        assert "CONTACTMON_STORE_URL" not in INGEST_SETTINGS  # a worker-only name is refused
        assert "CONTACTMON_INGEST_PORT" not in allowed_names(K8S / "base" / "deployment.yaml")

    def test_the_manifests_use_settings_at_all(self) -> None:
        used = set()
        for path in [*k8s_files(), COMPOSE, DOCKERFILE]:
            used |= set(VARIABLE.findall(path.read_text("utf-8")))
        assert {"CONTACTMON_BOOTSTRAP_SERVERS", "CONTACTMON_STORE_URL"} <= used
        assert used >= SECRETS  # the SASL password is wired in Kubernetes

    def test_compose_variables_are_only_interpolated_and_are_documented(self) -> None:
        text = COMPOSE.read_text("utf-8")
        compose = yaml.safe_load(text)
        keys = {key for s in compose["services"].values() for key in compose_environment(s)}
        readme = (DEPLOY / "README.md").read_text("utf-8")
        for name in COMPOSE_VARIABLES:
            assert name not in SETTINGS, f"{name} is a setting now: drop it from the list"
            assert name not in keys
            assert re.search(r"\$\{" + name + r"[:}]", text), f"{name} is not used"
            assert name in readme, f"{name} is not documented in deploy/README.md"

    def test_dockerfile_sets_only_settings(self) -> None:
        text = DOCKERFILE.read_text("utf-8")
        assigned = set(re.findall(r"\b(CONTACTMON_[A-Z0-9_]+)=", text))
        assert assigned
        assert assigned <= SETTINGS


class TestNoLiteralSecrets:
    """Secret settings come from a Secret or the environment, never from a manifest's text."""

    def test_there_is_a_secret(self) -> None:
        assert "CONTACTMON_SASL_PASSWORD" in SECRETS
        assert {
            "CONTACTMON_PSEUDONYM_KEY",
            "CONTACTMON_ZGW_SECRET",
            "CONTACTMON_OPENKLANT_TOKEN",
            "CONTACTMON_METRICS_PASSWORD",
            "CONTACTMON_INGEST_AUTH_OPEN_NOTIFICATIES",
        } <= SECRETS

    def test_kubernetes(self) -> None:
        assert literal_secrets_in_k8s(list(k8s_documents(k8s_files()))) == []

    @pytest.mark.parametrize(
        ("path", "names"),
        [
            (SECRET_TEMPLATE, WORKER_SECRETS),
            (INGEST_SECRET_TEMPLATE, INGEST_SECRETS | {"CONTACTMON_SASL_PASSWORD"}),
        ],
        ids=["worker", "ingest"],
    )
    def test_the_secret_template_holds_placeholders_only(self, path: Path, names: set[str]) -> None:
        template = yaml.safe_load(path.read_text("utf-8"))
        values = {**template.get("stringData", {}), **template.get("data", {})}
        for name in names:
            assert PLACEHOLDER.match(values[name]), f"{name}: {values[name]!r}"

    def test_compose(self) -> None:
        assert literal_secrets_in_compose(yaml.safe_load(COMPOSE.read_text("utf-8"))) == []

    def test_dockerfile(self) -> None:
        text = DOCKERFILE.read_text("utf-8")
        assert not SECRETS & set(VARIABLE.findall(text))

    def test_the_checks_find_a_literal(self, tmp_path: Path) -> None:
        manifest = tmp_path / "bad.yaml"
        manifest.write_text(
            yaml.safe_dump_all(
                [
                    {
                        "kind": "Deployment",
                        "spec": {"containers": [{"env": [{"name": "x"}]}]},
                    },
                    {
                        "kind": "Pod",
                        "spec": {
                            "containers": [
                                {"env": [{"name": "CONTACTMON_SASL_PASSWORD", "value": "pw"}]}
                            ]
                        },
                    },
                    {"kind": "ConfigMap", "data": {"CONTACTMON_SASL_PASSWORD": "pw"}},
                    {
                        "kind": "Kustomization",
                        "configMapGenerator": [
                            {"name": "s", "literals": ["CONTACTMON_SASL_PASSWORD=pw"]}
                        ],
                    },
                ]
            )
        )
        assert len(literal_secrets_in_k8s(list(k8s_documents([manifest])))) == 3
        compose = {
            "services": {
                "a": {"environment": {"CONTACTMON_SASL_PASSWORD": "pw"}},
                "b": {"environment": ["CONTACTMON_SASL_PASSWORD=${PW:-pw}"]},
                "c": {"environment": ["CONTACTMON_SASL_PASSWORD=${CONTACTMON_SASL_PASSWORD}"]},
                "d": {"environment": ["CONTACTMON_SASL_PASSWORD"]},
                "e": {"environment": {"CONTACTMON_SASL_PASSWORD": "${PW:?set PW}"}},
            }
        }
        assert [line.split(":")[0] for line in literal_secrets_in_compose(compose)] == [
            "service a",
            "service b",
        ]
