"""The deployment files run as written: the systemd unit's ExecStart and the Kubernetes
Deployment's args, env and probes start a keeper inside a network namespace (a test
host standing in for the machine or the pod), which keeps a real account fresh at an
emulator across the veth; the host probes the namespace's non-loopback address the way
the kubelet and Prometheus would, and every metric the alert rules name is exported.

What cannot run here is checked for shape only and said so: systemd's own sandboxing
(User=, ProtectSystem=, ...; `systemd-analyze verify` checks the unit's syntax), the
container image, and the Secret/ConfigMap mounts (reproduced as files)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ctct.emulator.config import DEFAULT_CLIENT_SECRET
from ctct.stores import open_store
from ctct.testing import EmulatorHandle
from tests.keeper.fleet import emulator_process, store_minted
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CTCT = str(Path(sys.executable).with_name("ctct"))


@dataclass
class PodHost:
    """A network namespace joined to this host by a veth pair."""

    name: str
    address: str  # inside the namespace
    gateway: str  # this host's end of the veth

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


@pytest.fixture
def pod_host() -> Iterator[PodHost]:
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2 to make a network namespace")
    tag = uuid.uuid4().hex[:6]
    name, outside, inside = f"ctct-dep-{tag}", f"vdh{tag}", f"vdn{tag}"
    subnet = 16 + int(tag[:2], 16) % 200  # 10.<subnet>.77.0/30, unlikely to clash
    gateway, address = f"10.{subnet}.77.1", f"10.{subnet}.77.2"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        for argv in (
            ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", name],
            ["ip", "addr", "add", f"{gateway}/30", "dev", outside],
            ["ip", "link", "set", outside, "up"],
            ["ip", "netns", "exec", name, "ip", "addr", "add", f"{address}/30", "dev", inside],
            ["ip", "netns", "exec", name, "ip", "link", "set", inside, "up"],
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ):
            subprocess.run(argv, check=True, capture_output=True)
        yield PodHost(name, address, gateway)
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def emulator(tmp_path: Path, pod_host: PodHost) -> Iterator[EmulatorHandle]:
    """The emulator on this host's loopback, and the same address inside the namespace
    through a relay across the veth (socat on each side), so the keeper there reaches
    it under the very URL (and issuer) the grants were stored with: ctct refuses plain
    http to anything but loopback."""
    if shutil.which("socat") is None:
        pytest.skip("needs socat for the relay into the namespace")
    with emulator_process(tmp_path, "--access-token-ttl", "20") as emu:
        port = emu.base_url.rsplit(":", 1)[1]
        relay = str(free_port())
        relays = [
            subprocess.Popen(
                [
                    "socat",
                    f"TCP-LISTEN:{relay},bind={pod_host.gateway},fork,reuseaddr",
                    f"TCP:127.0.0.1:{port}",
                ]
            ),
            subprocess.Popen(
                pod_host.command(
                    [
                        "socat",
                        f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                        f"TCP:{pod_host.gateway}:{relay}",
                    ]
                )
            ),
        ]
        try:
            yield emu
        finally:
            for process in relays:
                process.kill()
                process.wait()


def started(
    host: PodHost, argv: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(host.command(argv), env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered 200\n" + log.read_text()[-3000:]
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # both files promise that SIGTERM stops it cleanly
    try:
        assert process.wait(timeout=45) == 0
    finally:
        if process.poll() is None:
            process.kill()


def metric_families(url: str) -> dict[str, Any]:
    text = httpx2.get(url, timeout=5).text
    return {family.name: family for family in text_string_to_metric_families(text)}


def rule_metric_names() -> set[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "ctct-keeper-rules.yaml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\bctct_[a-z_]+", expr)}


def assert_rules_have_their_metrics(families: dict[str, Any]) -> None:
    exported = set()
    for name, family in families.items():
        exported.add(name)
        exported.update(sample.name for sample in family.samples)
    assert rule_metric_names() - exported == set()


def secret_files(etc: Path) -> None:
    etc.mkdir(parents=True, exist_ok=True)
    subprocess.run([CTCT, "keeper", "new-ui-secret", str(etc / "ui-secret")], check=True)
    hashed = subprocess.run(
        [CTCT, "keeper", "hash-password"], input="operator pass", capture_output=True, text=True
    )
    assert hashed.returncode == 0, hashed.stderr
    (etc / "operator").write_text(hashed.stdout)
    (etc / "client-secret").write_text(DEFAULT_CLIENT_SECRET)
    (etc / "whsec").write_text("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    for path in etc.iterdir():
        path.chmod(0o600)


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **extra}


def test_the_systemd_unit_runs_as_written(
    tmp_path: Path, pod_host: PodHost, emulator: EmulatorHandle
) -> None:
    unit_file = DEPLOY / "systemd" / "ctct-keeper.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(unit_file.read_text())
    service = unit["Service"]
    if shutil.which("systemd-analyze"):
        # Syntax only: the unit names /usr/local/bin/ctct, which this machine lacks.
        copy = tmp_path / "ctct-keeper.service"
        copy.write_text(unit_file.read_text().replace("/usr/local/bin/ctct", CTCT))
        checked = subprocess.run(
            ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True
        )
        assert "Unknown key" not in checked.stderr and "Invalid" not in checked.stderr, (
            checked.stderr
        )
    # Not run here: User=/Group= (no ctct user) and the sandboxing directives.
    assert service["User"] == "ctct" and service["KillSignal"] == "SIGTERM"

    etc, state = tmp_path / "etc-ctct", tmp_path / "var-lib-ctct"
    secret_files(etc)
    state.mkdir()
    store_url = f"sqlite:///{state}/tokens.db"
    (etc / "keeper.toml").write_text(
        f'store = "{store_url}"\ntick = 0.5\n\n[[apps]]\n'
        f'client_id = "{emulator.client_id}"\n'
        f'client_secret_file = "{etc}/client-secret"\nbase_url = "{emulator.base_url}"\n'
    )
    store = open_store(store_url)
    store_minted(emulator, store, 3)
    store.close()

    argv = shlex.split(service["ExecStart"].replace("/etc/ctct/", f"{etc}/"))
    assert argv[0] == "/usr/local/bin/ctct"
    argv[0] = CTCT
    ops = next(a for a in argv if a.startswith("0.0.0.0:"))
    port = ops.rsplit(":", 1)[1]
    env = environment(tmp_path)
    env.update(line.split("=", 1) for line in service["Environment"].split())  # type: ignore[misc]
    log = tmp_path / "systemd.log"
    process = started(pod_host, argv, env, log)
    try:
        base = f"http://{pod_host.address}:{port}"
        wait_for(f"{base}/readyz", process, log)
        assert httpx2.get(f"{base}/livez", timeout=5).status_code == 200
        deadline = time.monotonic() + 30
        while True:  # the emulator's 20 s tokens: the keeper refreshes all three
            families = metric_families(f"{base}/metrics")
            ok = [
                s.value for s in families["ctct_accounts"].samples if s.labels.get("state") == "ok"
            ]
            refreshed = emulator.counters()["token_requests"].get("refresh_token", {})
            if sum(ok) == 3 and refreshed.get("success", 0) >= 3:
                break
            assert time.monotonic() < deadline, (ok, refreshed, log.read_text()[-2000:])
            time.sleep(0.5)
        assert_rules_have_their_metrics(families)
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()


def kubernetes_documents() -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "keeper.yaml").read_text())
    return {doc["kind"]: doc for doc in docs if doc}


def test_the_kubernetes_deployment_runs_as_written(
    tmp_path: Path, pod_host: PodHost, emulator: EmulatorHandle
) -> None:
    manifests = kubernetes_documents()
    deployment = manifests["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # Not run here: the image, securityContext, resources (no cluster).

    # The ConfigMap and the Secret, as the volumes would mount them.
    config_dir, secrets_dir = tmp_path / "config", tmp_path / "secrets"
    config_dir.mkdir()
    secret_files(secrets_dir)
    toml = manifests["ConfigMap"]["data"]["keeper.toml"]
    toml = toml.replace('"your-api-key"', f'"{emulator.client_id}"')
    toml = toml.replace("/etc/ctct/secrets/", f"{secrets_dir}/")
    # Events go nowhere outside the test: a closed port on the pod's own loopback.
    toml = toml.replace("https://hooks.example.com/ctct", "http://127.0.0.1:9/hooks")
    toml = toml.replace("[[apps]]", "tick = 0.5\n\n[[apps]]", 1) if "tick" not in toml else toml
    toml = toml.replace(
        f'client_id = "{emulator.client_id}"',
        f'client_id = "{emulator.client_id}"\nbase_url = "{emulator.base_url}"',
    )
    (config_dir / "keeper.toml").write_text(toml)
    store_url = f"sqlite:///{tmp_path}/tokens.db"
    store = open_store(store_url)
    store_minted(emulator, store, 2)
    store.close()

    fields = {"status.podIP": pod_host.address, "metadata.name": "ctct-keeper-0"}
    secrets = {"store-url": store_url}
    env = environment(tmp_path)
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in item["valueFrom"]:
            env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[item["name"]] = secrets[item["valueFrom"]["secretKeyRef"]["key"]]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    local = {mounts["config"]: str(config_dir), mounts["secrets"]: str(secrets_dir)}

    def substituted(arg: str) -> str:
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)  # Kubernetes' $(VAR)
        for mount, path in local.items():
            arg = arg.replace(mount, path)
        return arg

    argv = [CTCT, *(substituted(a) for a in container["args"])]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    log = tmp_path / "pod.log"
    process = started(pod_host, argv, env, log)
    try:
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            port = ports.get(get["port"], get["port"])
            wait_for(f"http://{pod_host.address}:{port}{get['path']}", process, log)
        # The Service's target: the status page on the pod address, for its public name.
        service = manifests["Service"]["spec"]["ports"][0]
        page = httpx2.get(
            f"http://{pod_host.address}:{ports[service['targetPort']]}/",
            headers={"Host": "keeper.example.com"},
            timeout=5,
        )
        assert page.status_code in (200, 303), page.status_code
        foreign = httpx2.get(
            f"http://{pod_host.address}:{ports[service['targetPort']]}/",
            headers={"Host": "evil.example"},
            timeout=5,
        )
        assert foreign.status_code == 421  # a foreign Host: misdirected, never served
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        scrape = f"http://{pod_host.address}:{annotations['prometheus.io/port']}/metrics"
        deadline = time.monotonic() + 30
        while True:
            families = metric_families(scrape)
            ok = sum(
                s.value for s in families["ctct_accounts"].samples if s.labels.get("state") == "ok"
            )
            if ok == 2:
                break
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        assert_rules_have_their_metrics(families)
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()
