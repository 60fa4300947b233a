"""The report's schedules parse: the Kubernetes CronJob (yaml, kustomize) and the systemd units
(`systemd-analyze verify`); they run the scheduled commands with settings the code has."""

from __future__ import annotations

import re
import subprocess
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import yaml

from streams.live.settings import WorkerSettings
from streams.report.mail import SMTP_PREFIX, SmtpSettings
from tests.tools import kustomize_build, systemd_analyze

ROOT = Path(__file__).resolve().parents[2]
CRON = ROOT / "deploy" / "cronjob"
SYSTEMD = ROOT / "deploy" / "systemd"
WORKER = ROOT / "deploy" / "k8s" / "base" / "deployment.yaml"
SMTP = {
    (field.alias or f"{SMTP_PREFIX}{name.upper()}")
    for name, field in SmtpSettings.model_fields.items()
}
SETTINGS = {WorkerSettings.env_name(f) for f in WorkerSettings.model_fields} | SMTP
SECRETS = {"CONTACTMON_SMTP_PASSWORD", "CONTACTMON_STORE_URL", "CONTACTMON_SASL_PASSWORD"}


def documents() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((CRON / "kustomization.yaml").read_text("utf-8"))
    found = {}
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((CRON / resource).read_text("utf-8")):
            found[doc["kind"]] = doc
    return found


def containers() -> list[dict[str, Any]]:
    spec = documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return [*spec["initContainers"], *spec["containers"]]


class TestCronJob:
    def test_it_parses_and_runs_the_scheduled_commands(self) -> None:
        cron = documents()["CronJob"]
        assert cron["apiVersion"] == "batch/v1"
        assert cron["spec"]["timeZone"] == "Europe/Amsterdam"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        assert re.fullmatch(r"(\S+ ){4}\S+", cron["spec"]["schedule"])
        export, report = containers()
        assert export["args"][:2] == ["export", "--previous-month"]
        assert report["args"][:2] == ["report", "--previous-month"]
        assert "--mail" in report["args"]
        out = {c["args"][c["args"].index("--out") + 1] for c in containers()}
        mounts = {m["mountPath"] for c in containers() for m in c["volumeMounts"]}
        assert out <= mounts

    def test_the_image_is_the_workers(self) -> None:
        worker = yaml.safe_load(WORKER.read_text("utf-8"))
        (container,) = worker["spec"]["template"]["spec"]["containers"]
        assert {c["image"] for c in containers()} == {container["image"]}

    def test_only_known_settings_and_secrets_from_secrets(self) -> None:
        kustomization = yaml.safe_load((CRON / "kustomization.yaml").read_text("utf-8"))
        (generator,) = kustomization["configMapGenerator"]
        literals = {item.split("=", 1)[0] for item in generator["literals"]}
        assert literals <= SETTINGS, literals - SETTINGS
        assert not literals & SECRETS
        for container in containers():
            for entry in container.get("env", []):
                name = entry["name"]
                assert name in SETTINGS or not name.startswith("CONTACTMON_"), name
                if name in SECRETS:
                    assert "secretKeyRef" in entry["valueFrom"], name

    def test_the_pvc_exists(self) -> None:
        spec = documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        claims = {
            v["persistentVolumeClaim"]["claimName"]
            for v in spec["volumes"]
            if "persistentVolumeClaim" in v
        }
        assert claims == {documents()["PersistentVolumeClaim"]["metadata"]["name"]}

    def test_kustomize_builds_it(self) -> None:
        built = kustomize_build(CRON)
        kinds = [d["kind"] for d in yaml.safe_load_all(built)]
        assert sorted(kinds) == ["ConfigMap", "CronJob", "PersistentVolumeClaim"]


class TestSystemd:
    def units(self) -> dict[str, ConfigParser]:
        found = {}
        for path in sorted(SYSTEMD.glob("contactmon-report.*")):
            parser = ConfigParser(strict=False, interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(path.read_text("utf-8"))
            found[path.suffix] = parser
        return found

    def test_the_timer_starts_the_service_monthly_in_amsterdam(self) -> None:
        timer = self.units()[".timer"]
        assert timer["Timer"]["Unit"] == "contactmon-report.service"
        assert timer["Timer"]["OnCalendar"].endswith("Europe/Amsterdam")
        assert timer["Timer"]["Persistent"] == "true"

    def test_the_service_runs_the_scheduled_commands(self) -> None:
        text = (SYSTEMD / "contactmon-report.service").read_text("utf-8")
        starts = re.findall(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
        assert [s.split()[1:3] for s in starts] == [
            ["export", "--previous-month"],
            ["report", "--previous-month"],
        ]
        assert "UMask=0027" in text
        example = (SYSTEMD / "report.env.example").read_text("utf-8")
        names = set(re.findall(r"^(CONTACTMON_[A-Z_]+)=", example, flags=re.MULTILINE))
        assert names <= SETTINGS, names - SETTINGS

    def test_systemd_analyze_verifies_them(self, tmp_path: Path) -> None:
        binary = ROOT / ".venv" / "bin" / "contactmon"
        for path in SYSTEMD.glob("contactmon-report.*"):
            text = path.read_text("utf-8").replace(
                "/opt/contactmon/.venv/bin/contactmon", str(binary)
            )
            (tmp_path / path.name).write_text(text, encoding="utf-8")
        units = sorted(str(p) for p in tmp_path.iterdir())
        done = subprocess.run(
            [systemd_analyze(), "verify", *units], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        problems = [line for line in done.stderr.splitlines() if "contactmon-report" in line]
        assert not problems, problems
        calendar = self.units()[".timer"]["Timer"]["OnCalendar"]
        subprocess.run([systemd_analyze(), "calendar", calendar], capture_output=True, check=True)
