"""`contactmon ingest` in deploy/: the Kubernetes manifests, the compose service, the image.

No cluster and no Docker engine here: these check structure and cross-references (as
test_deploy_manifests does for the worker), and that ``kustomize build`` renders the example
overlay with the ingest resources in it. Which ``CONTACTMON_*`` names the files may hold and that
no secret is written in them: test_settings_in_deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.core.config import load_norms
from streams.ingest.config import IngestConfig
from tests.tools import kustomize_build
from tests.unit.test_deploy_manifests import (
    DEPLOY,
    K8S,
    base_documents,
    generator,
    services,
    worker_container,
)
from tests.unit.test_settings_in_deploy import (
    AUTHORIZATION,
    INGEST_CONFIG,
    INGEST_SECRET_TEMPLATE,
    INGEST_SECRETS,
    INGEST_SETTINGS,
)

NAME = "contactmon-ingest"


def deployment() -> dict[str, Any]:
    return base_documents()[("Deployment", NAME)]


def container() -> dict[str, Any]:
    (found,) = deployment()["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def literals() -> dict[str, str]:
    return dict(item.split("=", 1) for item in generator(f"{NAME}-settings")["literals"])


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    return data


class TestDeployment:
    def test_it_runs_ingest_from_the_worker_image(self) -> None:
        assert container()["args"] == ["ingest"]
        assert container()["image"] == worker_container()["image"]

    def test_resources_and_no_api_token(self) -> None:
        resources = container()["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert "memory" in resources["limits"]
        assert deployment()["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    def test_readiness_on_healthz_liveness_on_livez(self) -> None:
        ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
        assert ports == {"webhook": int(literals()["CONTACTMON_INGEST_PORT"])}
        paths = {probe: container()[probe]["httpGet"]["path"] for probe in ("readinessProbe",)}
        assert paths == {"readinessProbe": "/healthz"}  # 503 while Kafka is away: out of rotation
        for probe in ("startupProbe", "livenessProbe"):  # never restarted for a Kafka outage
            assert container()[probe]["httpGet"]["path"] == "/livez"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container()[probe]["httpGet"]["port"] in ports
        assert literals()["CONTACTMON_INGEST_HOST"] == "0.0.0.0"

    def test_settings_from_the_configmap_and_secrets_from_the_secret(self) -> None:
        (source,) = container()["envFrom"]
        assert source["configMapRef"]["name"] == f"{NAME}-settings"
        env = {item["name"]: item for item in container()["env"]}
        assert set(literals()) | set(env) <= INGEST_SETTINGS
        assert not set(literals()) & set(env)
        template = yaml.safe_load(INGEST_SECRET_TEMPLATE.read_text("utf-8"))
        keys = set(template["stringData"])
        for name, item in env.items():
            ref = item["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (template["metadata"]["name"], name)
            assert ref["key"] in keys
        assert set(env) >= INGEST_SECRETS  # every secret is wired, from the Secret
        assert set(env) >= AUTHORIZATION  # each subscription's header value
        kustomization = yaml.safe_load((K8S / "base/kustomization.yaml").read_text("utf-8"))
        assert INGEST_SECRET_TEMPLATE.name not in kustomization["resources"]
        assert ("Secret", template["metadata"]["name"]) not in base_documents()

    def test_the_configuration_and_the_ca_are_mounted_where_the_settings_say(self) -> None:
        mounts = {m["name"]: m for m in container()["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment()["spec"]["template"]["spec"]["volumes"]}
        config = Path(literals()["CONTACTMON_INGEST_CONFIG"])
        assert config.parent == Path(mounts["config"]["mountPath"])
        assert volumes["config"]["configMap"]["name"] == f"{NAME}-config"
        (item,) = generator(f"{NAME}-config")["files"]
        key, file = item.split("=")
        assert (key, K8S / "base" / file) == (config.name, INGEST_CONFIG)
        assert Path(literals()["CONTACTMON_SSL_CAFILE"]).parent == Path(
            mounts["kafka-ca"]["mountPath"]
        )
        template = yaml.safe_load(INGEST_SECRET_TEMPLATE.read_text("utf-8"))
        assert volumes["kafka-ca"]["secret"]["secretName"] == template["metadata"]["name"]
        assert {i["key"] for i in volumes["kafka-ca"]["secret"]["items"]} <= set(
            template["stringData"]
        )

    def test_the_example_configuration_loads(self) -> None:
        environ = dict.fromkeys(AUTHORIZATION, "Bearer " + "x" * 32)
        config = IngestConfig.load(INGEST_CONFIG, environ, frozenset(load_norms().slugs))
        assert {s.name for s in config.subscriptions} == {"open-notificaties", "open-klant"}
        assert all(root.startswith("https://") for root in config.file.zgw.api_roots)


class TestNetwork:
    def test_service_and_servicemonitor_select_the_pods(self) -> None:
        labels = deployment()["spec"]["template"]["metadata"]["labels"]
        service = base_documents()[("Service", NAME)]
        monitor = base_documents()[("ServiceMonitor", NAME)]
        assert service["spec"]["selector"].items() <= labels.items()
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == "webhook"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert (endpoint["port"], endpoint["path"]) == ("webhook", "/metrics")
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )
        budget = base_documents()[("PodDisruptionBudget", NAME)]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def test_the_network_policy_is_least_privilege(self) -> None:
        policy = base_documents()[("NetworkPolicy", NAME)]
        assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": NAME}
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        (rule,) = policy["spec"]["ingress"]  # in: the webhook port only
        assert rule["ports"] == [{"port": "webhook", "protocol": "TCP"}]
        allowed = {
            (p["port"], p["protocol"]): rule.get("to")
            for rule in policy["spec"]["egress"]
            for p in rule["ports"]
        }
        assert set(allowed) == {(53, "UDP"), (53, "TCP"), (9093, "TCP"), (443, "TCP")}
        (api,) = allowed[(443, "TCP")]  # https to the ZGW and Open Klant hosts, not anywhere
        assert api["ipBlock"]["cidr"] != "0.0.0.0/0"

    def test_kustomize_renders_the_example_overlay_with_ingest(self) -> None:
        rendered = kustomize_build(K8S / "overlays" / "example")
        documents = [d for d in yaml.safe_load_all(rendered) if d]
        by_kind = {(d["kind"], d["metadata"]["name"]): d for d in documents}
        ingest = by_kind[("Deployment", NAME)]
        assert ingest["metadata"]["namespace"] == "contactmon"
        (pod_container,) = ingest["spec"]["template"]["spec"]["containers"]
        assert pod_container["image"].startswith("registry.example.nl/contactmon/worker:")
        settings = pod_container["envFrom"][0]["configMapRef"]["name"]
        assert settings.startswith(f"{NAME}-settings-")  # hashed: a change rolls the pods
        assert ("ConfigMap", settings) in by_kind
        (config,) = [v for v in ingest["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
        rendered_config = by_kind[("ConfigMap", config["configMap"]["name"])]
        assert "subscriptions:" in rendered_config["data"]["ingest.yaml"]
        for kind in ("Service", "NetworkPolicy", "ServiceMonitor", "PodDisruptionBudget"):
            assert (kind, NAME) in by_kind


class TestComposeAndImage:
    def test_the_compose_service(self, compose: dict[str, Any]) -> None:
        ingest = services(compose)["ingest"]
        assert ingest["profiles"] == ["ingest"]
        assert ingest["command"] == ["ingest"]
        assert ingest["image"] == services(compose)["worker"]["image"]
        env = ingest["environment"]
        assert set(env) <= INGEST_SETTINGS, set(env) - INGEST_SETTINGS
        for name in INGEST_SECRETS - {"CONTACTMON_METRICS_PASSWORD", "CONTACTMON_SASL_PASSWORD"}:
            assert env[name] is None, name  # passed through from compose's environment
        (volume,) = ingest["volumes"]
        source, target, mode = volume.split(":")
        assert (DEPLOY / source).resolve() == INGEST_CONFIG
        assert (target, mode) == (env["CONTACTMON_INGEST_CONFIG"], "ro")
        assert ingest["ports"] == [f"127.0.0.1:{env['CONTACTMON_INGEST_PORT']}:6068"]
        assert "/healthz" in " ".join(ingest["healthcheck"]["test"])

    def test_the_image_holds_the_source_adapters(self) -> None:
        text = (DEPLOY / "docker" / "Dockerfile").read_text("utf-8")
        assert "COPY sources ./sources" in text  # contactmon ingest imports sources.zgw
        ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text("utf-8").split()
        assert "!sources" in ignore
