"""Docker Compose, the Dockerfile and the Kubernetes manifests: they parse and fit together.

Docker and a cluster cannot run here, so these tests check structure and cross-references: every
service, config, volume, file and setting a manifest names exists, images are pinned, and the
worker's environment uses only CONTACTMON_* settings the worker has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.dashboards import k8s
from streams.dashboards.build import DASHBOARD_DIR
from streams.dashboards.pipeline import WORKER_JOB
from streams.live.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS = {f"CONTACTMON_{name.upper()}" for name in WorkerSettings.model_fields}
PINNED = re.compile(r"^[\w./-]+:(v?\d+\.\d+[\w.-]*)$")  # name:version, e.g. prom/prometheus:v3.5.0


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def volumes_of(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of every volume entry ``source:target[:mode]``."""
    for entry in service.get("volumes", []):
        source, target, *_ = entry.split(":")
        yield source, target


def generator_files() -> set[Path]:
    """Files a configMapGenerator loads (data, not manifests: the ingest configuration)."""
    found = set()
    for path in K8S.rglob("kustomization.yaml"):
        for generator in yaml.safe_load(path.read_text("utf-8")).get("configMapGenerator", []):
            found |= {path.parent / item.split("=")[-1] for item in generator.get("files", [])}
    return found


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(set(K8S.rglob("*.yaml")) - generator_files()):
        for document in yaml.safe_load_all(path.read_text("utf-8")):
            if document is not None:
                yield path, document


def base_documents() -> dict[tuple[str, str], dict[str, Any]]:
    """The base's resources by (kind, name), as its kustomization lists them."""
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text("utf-8"))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / "base" / resource).read_text("utf-8")):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def generator(name: str) -> dict[str, Any]:
    """The base's configMapGenerator called ``name``."""
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text("utf-8"))
    (found,) = [g for g in kustomization["configMapGenerator"] if g["name"] == name]
    result: dict[str, Any] = found
    return result


def worker_container() -> dict[str, Any]:
    deployment = base_documents()[("Deployment", "contactmon-worker")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


class TestCompose:
    """The compose file parses, and everything a service names exists."""

    def test_the_stack_is_complete(self, compose: dict[str, Any]) -> None:
        assert {
            "kafka",
            "postgres",
            "worker",
            "ingest",
            "prometheus",
            "alertmanager",
            "grafana",
        } <= set(services(compose))

    def test_every_image_is_pinned_by_a_version_tag(self, compose: dict[str, Any]) -> None:
        for name, service in services(compose).items():
            image = service["image"]
            assert PINNED.match(image.split()[0]), (name, image)
            assert not image.endswith(":latest")

    def test_dependencies_configs_and_volumes_exist(self, compose: dict[str, Any]) -> None:
        names = set(services(compose))
        for service in services(compose).values():
            assert set(service.get("depends_on", [])) <= names
            for config in service.get("configs", []):
                assert config["source"] in compose["configs"]
            for source, _ in volumes_of(service):
                if source.startswith("."):
                    assert (DEPLOY / source).exists(), source
                else:
                    assert source in compose["volumes"], source

    def test_the_worker_image_is_built_from_the_dockerfile(self, compose: dict[str, Any]) -> None:
        build = services(compose)["worker"]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
        assert services(compose)["simulator"]["image"] == services(compose)["worker"]["image"]

    def test_worker_settings_exist(self, compose: dict[str, Any]) -> None:
        for name in ("worker", "simulator"):
            env = set(services(compose)[name]["environment"])
            assert env <= SETTINGS, env - SETTINGS

    def test_prometheus_loads_the_alert_rules(self, compose: dict[str, Any]) -> None:
        prometheus = services(compose)["prometheus"]
        mounts = dict(volumes_of(prometheus))
        assert mounts["../alerts"] == "/etc/prometheus/rules"
        config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
        (pattern,) = config["rule_files"]
        rules_dir, glob = pattern.rsplit("/", 1)
        assert rules_dir == "/etc/prometheus/rules"
        assert [p.name for p in (ROOT / "alerts").glob(glob)] == ["contactmon.rules.yml"]

    def test_prometheus_config_agrees_with_the_projects_template(
        self, compose: dict[str, Any]
    ) -> None:
        """deploy/prometheus/prometheus.yml is a template that deploy/prometheus.sh renders; the
        compose file carries its own rendering inline, which must keep its job and rule files."""
        template = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
        assert "@RULE_FILES@" in template  # still a template: it cannot be mounted as it is
        config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
        jobs = {job["job_name"] for job in config["scrape_configs"]}
        assert "job_name: contactmon-worker" in template
        assert "contactmon-worker" in jobs
        assert all(pattern.endswith(".rules.yml") for pattern in config["rule_files"])

    def test_prometheus_scrapes_every_worker_as_the_dashboards_expect(
        self, compose: dict[str, Any]
    ) -> None:
        config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
        (job,) = [j for j in config["scrape_configs"] if j["job_name"] == WORKER_JOB]
        (discovery,) = job["dns_sd_configs"]
        (name,) = discovery["names"]
        assert name in services(compose)
        assert (
            str(discovery["port"])
            == services(compose)[name]["environment"]["CONTACTMON_METRICS_PORT"]
        )
        ((target,),) = [
            s["targets"] for s in config["alerting"]["alertmanagers"][0]["static_configs"]
        ]
        assert target.split(":")[0] in services(compose)

    def test_alertmanager_config_parses(self, compose: dict[str, Any]) -> None:
        config = yaml.safe_load(compose["configs"]["alertmanager-config"]["content"])
        receivers = {r["name"] for r in config["receivers"]}
        assert config["route"]["receiver"] in receivers

    def test_grafana_gets_the_provisioning_and_the_dashboards(
        self, compose: dict[str, Any]
    ) -> None:
        mounts = dict(volumes_of(services(compose)["grafana"]))
        assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
        provider = yaml.safe_load(
            (ROOT / "grafana/provisioning/dashboards/contactmon.yml").read_text("utf-8")
        )["providers"][0]
        assert mounts[f"../{DASHBOARD_DIR}"] == provider["options"]["path"]
        home = services(compose)["grafana"]["environment"][
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
        ]
        assert (
            ROOT / DASHBOARD_DIR / Path(home).relative_to(provider["options"]["path"])
        ).is_file()

    def test_grafana_datasource_points_at_the_prometheus_service(
        self, compose: dict[str, Any]
    ) -> None:
        config = yaml.safe_load(
            (ROOT / "grafana/provisioning/datasources/contactmon.yml").read_text("utf-8")
        )
        (datasource,) = config["datasources"]
        host, port = datasource["url"].removeprefix("http://").split(":")
        assert host == "prometheus"
        assert f"127.0.0.1:{port}:{port}" in services(compose)[host]["ports"]


class TestDockerfile:
    """The worker image is pinned and copies what the package needs."""

    def test_base_images_are_pinned_python_311_slim(self) -> None:
        text = (DEPLOY / "docker" / "Dockerfile").read_text("utf-8")
        bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
        assert bases
        for base in bases:
            assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base

    def test_copied_paths_exist_and_are_in_the_context(self) -> None:
        text = (DEPLOY / "docker" / "Dockerfile").read_text("utf-8")
        ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text("utf-8").split()
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.MULTILINE):
            *sources, _ = line.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert f"!{source}" in ignore, source

    def test_it_runs_the_worker(self) -> None:
        text = (DEPLOY / "docker" / "Dockerfile").read_text("utf-8")
        assert 'ENTRYPOINT ["contactmon"]' in text
        assert 'CMD ["worker"]' in text
        assert re.search(r"^USER \d+", text, flags=re.MULTILINE)


class TestKubernetes:
    """The kustomize base and overlay parse, and their cross-references hold."""

    def test_every_manifest_parses_with_a_kind(self) -> None:
        documents = list(k8s_documents())
        assert len(documents) >= 10
        for path, document in documents:
            assert "kind" in document, path

    def test_kustomization_resources_exist(self) -> None:
        for path in K8S.rglob("kustomization.yaml"):
            kustomization = yaml.safe_load(path.read_text("utf-8"))
            for resource in kustomization["resources"]:
                target = path.parent / resource
                assert target.is_file() or (target / "kustomization.yaml").is_file(), resource

    def test_images_are_pinned(self) -> None:
        assert PINNED.match(worker_container()["image"])
        overlay = yaml.safe_load((K8S / "overlays/example/kustomization.yaml").read_text("utf-8"))
        for image in overlay["images"]:
            assert image["name"] == worker_container()["image"].split(":")[0]
            assert re.fullmatch(r"v?\d+\.\d+[\w.-]*", image["newTag"])

    def test_worker_settings_exist(self) -> None:
        settings = generator("contactmon-worker-settings")
        literals = {item.split("=", 1)[0] for item in settings["literals"]}
        env = {item["name"] for item in worker_container()["env"]}
        assert literals | env <= SETTINGS, (literals | env) - SETTINGS
        assert not literals & env
        (source,) = worker_container()["envFrom"]
        assert source["configMapRef"]["name"] == settings["name"]

    def test_the_secret_template_has_every_key_the_worker_reads(self) -> None:
        secret = yaml.safe_load(
            (K8S / "base/kafka-credentials.secret.example.yaml").read_text("utf-8")
        )
        name, keys = secret["metadata"]["name"], set(secret["stringData"])
        for item in worker_container()["env"]:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == name
            assert ref["key"] in keys
        deployment = base_documents()[("Deployment", "contactmon-worker")]
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["secretName"] == name
                assert {i["key"] for i in volume["secret"]["items"]} <= keys
        kustomization = yaml.safe_load((K8S / "base/kustomization.yaml").read_text("utf-8"))
        assert "kafka-credentials.secret.example.yaml" not in kustomization["resources"]
        assert ("Secret", name) not in base_documents()  # real credentials never come from git

    def test_ca_file_setting_points_into_the_mounted_secret(self) -> None:
        literals = dict(
            item.split("=", 1) for item in generator("contactmon-worker-settings")["literals"]
        )
        mounts = {m["name"]: m["mountPath"] for m in worker_container()["volumeMounts"]}
        assert Path(literals["CONTACTMON_SSL_CAFILE"]).parent == Path(mounts["kafka-ca"])
        assert literals["CONTACTMON_DATA_DIR"] == mounts["data"]

    def test_service_and_servicemonitor_select_the_worker_pods(self) -> None:
        documents = base_documents()
        deployment = documents[("Deployment", "contactmon-worker")]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = documents[("Service", WORKER_JOB)]  # the job label comes from the service name
        monitor = documents[("ServiceMonitor", "contactmon-worker")]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )
        (port,) = service["spec"]["ports"]
        (endpoint,) = monitor["spec"]["endpoints"]
        container_ports = {p["name"]: p["containerPort"] for p in worker_container()["ports"]}
        assert endpoint["port"] == port["name"]
        assert port["targetPort"] in container_ports
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert worker_container()[probe]["httpGet"]["port"] in container_ports

    def test_the_prometheus_rule_carries_the_alert_rules(self) -> None:
        rules = yaml.safe_load((ROOT / k8s.RULES_SOURCE).read_text("utf-8"))
        rule = yaml.safe_load((ROOT / k8s.RULES_FILE).read_text("utf-8"))
        assert rule["kind"] == "PrometheusRule"
        assert rule["spec"]["groups"] == rules["groups"]

    def test_the_dashboard_configmaps_carry_the_dashboards(self) -> None:
        maps = list(yaml.safe_load_all((ROOT / k8s.DASHBOARDS_FILE).read_text("utf-8")))
        data = {key: value for m in maps for key, value in m["data"].items()}
        files = {p.name: p.read_text("utf-8") for p in (ROOT / DASHBOARD_DIR).glob("*.json")}
        assert data == files
        for configmap in maps:
            assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"


class TestLeastPrivilege:
    """No default passwords, no anonymous access, non-root read-only containers, a NetworkPolicy."""

    def test_compose_has_no_default_passwords(self) -> None:
        text = (DEPLOY / "docker-compose.yml").read_text()
        assert ":-contactmon}" not in text
        assert "${CONTACTMON_DB_PASSWORD:?" in text
        assert "GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?" in text

    def test_grafana_is_not_anonymous_by_default(self, compose: dict[str, Any]) -> None:
        env = compose["services"]["grafana"]["environment"]
        assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "${GRAFANA_ANONYMOUS:-false}"

    @pytest.mark.parametrize("service", ["worker", "simulator", "ingest"])
    def test_contactmon_containers_are_locked_down(
        self, compose: dict[str, Any], service: str
    ) -> None:
        spec = compose["services"][service]
        assert spec["user"] == "10001:10001"
        assert spec["read_only"] is True
        assert spec["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in spec["security_opt"]

    def test_every_pod_is_locked_down(self) -> None:
        deployments = [d for _, d in k8s_documents() if d["kind"] == "Deployment"]
        names = {d["metadata"]["name"] for d in deployments}
        assert names == {"contactmon-worker", "contactmon-ingest"}
        for deployment in deployments:
            pod = deployment["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            (container,) = pod["containers"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    def test_a_network_policy_selects_the_workers(self) -> None:
        policy = base_documents()[("NetworkPolicy", "contactmon-worker")]
        assert policy["spec"]["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "contactmon-worker"
        }
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
