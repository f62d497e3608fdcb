"""The image, the compose stack and the Kubernetes manifests agree with each other and with the worker.

A selector that matches nothing, a probe on a port nobody serves or a grace period shorter than the
session timeout all pass every linter; these tests catch them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from momentstream.ops.settings import WorkerSettings, load_settings
from tests.test_deploy.conftest import DEPLOY, ROOT, load, manifests

DEFAULT_PORT = WorkerSettings.model_fields["web_port"].default


def test_the_image_is_pinned_runs_as_a_user_and_serves_the_worker_port() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(bases) == 2  # build, runtime
    assert all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user
    assert user[-1].split(":")[0] not in ("0", "root")
    assert f"EXPOSE {DEFAULT_PORT}" in text
    ignored = (ROOT / ".dockerignore").read_text()
    assert "!src/" in ignored  # the context is only what the build copies


def test_the_statefulset_serves_probes_on_the_port_it_declares_and_outlives_the_session_timeout(
    tmp_path: Path,
) -> None:
    found = manifests()
    pod = found["StatefulSet"]["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert ports == {"http-metrics": DEFAULT_PORT}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    settings_text = found["ConfigMap"]["data"]["worker.yaml"]
    values = yaml.safe_load(settings_text)
    assert pod["terminationGracePeriodSeconds"] > values["session_timeout"]
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    assert mounts["data"] == values["data_dir"]
    secrets_dir = next(e["value"] for e in worker["env"] if e["name"] == "MOMENTSTREAM_SECRETS_DIR")
    assert mounts["kafka-secrets"] == secrets_dir
    assert values["ssl_ca"].startswith(secrets_dir + "/")
    # The ConfigMap's settings load as the worker would load them: every key a setting, the password
    # from the mounted secret (here: a stand-in directory with the same file names).
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "momentstream_sasl_password").write_text("stand-in")
    (secrets / "ca.pem").write_text("stand-in")
    path = tmp_path / "worker.yaml"
    path.write_text(settings_text.replace(secrets_dir, str(secrets)))
    settings = load_settings(path, secrets_dir=secrets, report_unknown=False)
    assert settings.kafka.uses_sasl
    assert settings.kafka.uses_tls
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "stand-in"


def test_service_monitor_service_and_budget_select_the_worker_pods() -> None:
    found = manifests()
    pod_labels = found["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    service = found["Service"]
    for selector in (found["StatefulSet"]["spec"]["selector"]["matchLabels"], service["spec"]["selector"],
                     found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):  # fmt: skip
        assert selector.items() <= pod_labels.items()
    assert found["ServiceMonitor"]["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert found["StatefulSet"]["spec"]["serviceName"] == service["metadata"]["name"]
    (endpoint,) = found["ServiceMonitor"]["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    # The alerts look for job="momentstream"; the operator names the job after the Service.
    assert service["metadata"]["name"] == "momentstream"
    listed = set(load(DEPLOY / "kubernetes" / "kustomization.yaml")["resources"])
    assert listed == {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}


def test_the_compose_stack_pins_its_images_and_mounts_files_that_exist() -> None:
    compose = load(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert {"kafka", "worker", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert image
        assert not image.endswith(":latest")
        assert ":" in image, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
    assert services["worker"]["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY / services["worker"]["build"]["context"] / "Dockerfile").is_file()
    assert services["worker"]["ports"] == [f"127.0.0.1:{DEFAULT_PORT}:{DEFAULT_PORT}"]
    for name, service in services.items():  # nothing published beyond this machine
        assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", [])), name
    scrape = load(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "momentstream"
    assert job["static_configs"][0]["targets"] == [f"worker:{DEFAULT_PORT}"]
    provisioned = load(DEPLOY / "grafana" / "provisioning" / "dashboards" / "momentstream.yaml")
    mounted = [v for v in services["grafana"]["volumes"] if "momentstream.json" in v]
    assert mounted
    assert mounted[0].split(":")[1].startswith(provisioned["providers"][0]["options"]["path"])


def test_the_secured_override_reads_the_password_from_a_secret_file() -> None:
    secured = load(DEPLOY / "compose.secured.yaml")
    env = secured["services"]["worker"]["environment"]
    assert env["MOMENTSTREAM_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "MOMENTSTREAM_SASL_PASSWORD" not in env
    assert env["MOMENTSTREAM_SECRETS_DIR"] == "/run/secrets"
    assert "momentstream_sasl_password" in secured["secrets"]
    unknown = [k for k in env if k.removeprefix("MOMENTSTREAM_").lower() not in WorkerSettings.model_fields
               and k != "MOMENTSTREAM_SECRETS_DIR"]  # fmt: skip
    assert not unknown


def test_the_network_policy_admits_prometheus_and_operators_to_the_port_the_pods_serve() -> None:
    policy = load(DEPLOY / "kubernetes" / "networkpolicy.yaml")
    pods = load(DEPLOY / "kubernetes" / "statefulset.yaml")["spec"]["template"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pods["metadata"]["labels"].items()
    ports = {p["name"] for c in pods["spec"]["containers"] for p in c.get("ports", [])}
    [rule] = policy["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} <= ports
    assert "networkpolicy.yaml" in load(DEPLOY / "kubernetes" / "kustomization.yaml")["resources"]
