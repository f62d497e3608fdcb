"""The deployment files pass the linters a platform team would run: hadolint, yamllint, a Kubernetes
schema validator and promtool (rules check and rule unit tests)."""

from __future__ import annotations

import pytest

from tests.test_deploy.conftest import DEPLOY, KUBERNETES, ROOT, load, run, tool


def test_the_dockerfile_passes_hadolint() -> None:
    done = run(tool("hadolint"), "--failure-threshold", "info", str(ROOT / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_deployment_yaml_passes_yamllint() -> None:
    done = run(tool("yamllint"), "--strict", "-c", str(ROOT / ".yamllint.yaml"), "deploy", ".yamllint.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


CORE_KINDS = ("configmap.yaml", "service.yaml", "statefulset.yaml", "poddisruptionbudget.yaml", "networkpolicy.yaml")


@pytest.mark.parametrize("name", CORE_KINDS)
def test_the_kubernetes_manifests_match_the_kubernetes_schema(name: str) -> None:
    done = run(tool("kubernetes-validate"), "--strict", "--quiet", str(KUBERNETES / name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout or not done.stdout.strip(), done.stdout


def test_the_alert_rules_load_in_prometheus() -> None:
    done = run(tool("promtool"), "check", "rules", str(DEPLOY / "prometheus" / "alerts.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_on_its_series_and_not_on_a_near_miss() -> None:
    done = run(tool("promtool"), "test", "rules", str(DEPLOY / "prometheus" / "alerts.test.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {t["alertname"] for case in load(DEPLOY / "prometheus" / "alerts.test.yaml")["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    rules = {r["alert"] for g in load(DEPLOY / "prometheus" / "alerts.yaml")["groups"] for r in g["rules"]}
    assert tested == rules, f"alerts without a promtool test: {sorted(rules - tested)}"


def test_the_prometheus_operator_rule_is_the_rules_file() -> None:
    operator = load(KUBERNETES / "prometheusrule.yaml")
    assert operator["kind"] == "PrometheusRule"
    assert operator["spec"] == load(DEPLOY / "prometheus" / "alerts.yaml")
