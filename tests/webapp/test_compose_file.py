"""docker-compose.yml is a valid deployment: the compose tool accepts it and it has every service."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("no docker compose tool on this machine (bin/test installs Debian's docker-compose)")


def test_compose_file_is_accepted_with_all_services():
    env = {**os.environ, "SECRET_KEY": "compose-validation-key"}
    cmd = _compose_command()
    subprocess.run([*cmd, "config", "-q"], cwd=ROOT, env=env, check=True, timeout=60)
    services = subprocess.run([*cmd, "--profile", "cpu", "config", "--services"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert set(services) == {"proxy", "web", "worker-gpu", "worker-cpu", "worker-default", "redis", "postgres",
                             "s3", "s3-bucket"}


def test_the_app_containers_share_no_disk_only_the_services():
    """As on separate machines (README, "Running on several machines"): files go to the S3 service, and
    no volume is mounted into two app containers; only GPU workers consume the GPU queue."""
    import yaml

    config = subprocess.run([*_compose_command(), "--profile", "cpu", "config"], cwd=ROOT,
                            env={**os.environ, "SECRET_KEY": "k"}, capture_output=True, text=True, check=True,
                            timeout=60).stdout
    services = yaml.safe_load(config)["services"]
    apps = {name: s for name, s in services.items() if s.get("image") == "forward-tuning:latest"}
    assert all(s["environment"]["STORAGE_BACKEND"] == "s3" for s in apps.values())
    assert all(s["environment"]["S3_ENDPOINT_URL"] == "http://s3:9000" for s in apps.values())
    mounted = [volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
               for s in apps.values() for volume in s.get("volumes", [])]
    assert len(mounted) == len(set(mounted))  # no volume in two app containers
    commands = {name: s["command"] if isinstance(s["command"], str) else " ".join(s["command"])
                for name, s in apps.items()}
    assert [name for name, command in commands.items()
            if "tuning-gpu" in command.split("-Q ")[-1].split()[0]] == ["worker-gpu"]
    assert apps["worker-gpu"]["environment"]["WORKER_KIND"] == "gpu"


def test_only_the_buffering_proxy_is_published():
    """Slow clients must meet nginx, not gunicorn: web is reachable only through the proxy."""
    import yaml  # PyYAML comes with transformers

    config = subprocess.run([*_compose_command(), "config"], cwd=ROOT, env={**os.environ, "SECRET_KEY": "k"},
                            capture_output=True, text=True, check=True, timeout=60).stdout
    services = yaml.safe_load(config)["services"]
    assert not services["web"].get("ports") and services["proxy"]["ports"]
    command = services["web"]["command"]
    assert "webapp.gunicorn_conf" in (command if isinstance(command, str) else " ".join(command))
    assert (ROOT / "deploy" / "nginx.conf").read_text().count("proxy_pass http://web;") == 1


def test_compose_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run([*_compose_command(), "config", "-q"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_image_runs_as_a_user_who_owns_the_mounted_folders():
    """Processes in the containers are not root, and they can write where compose mounts volumes."""
    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    owned_by = re.findall(r"chown (\S+?):\S+ ([^&\n]+)", dockerfile)
    owned = {path for user, paths in owned_by if user == users[-1] for path in paths.split()}
    config = subprocess.run([*_compose_command(), "--profile", "cpu", "config"], cwd=ROOT,
                            env={**os.environ, "SECRET_KEY": "k"}, capture_output=True, text=True, check=True,
                            timeout=60).stdout
    services = yaml.safe_load(config)["services"]
    targets = {volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
               for name, service in services.items() if service.get("image") == "forward-tuning:latest"
               for volume in service.get("volumes", [])}
    assert targets and targets <= owned, targets - owned
