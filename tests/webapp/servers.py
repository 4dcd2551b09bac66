"""Real servers the tests start themselves: a private redis-server, an S3 protocol server (moto in
server mode, from PyPI) and "machines": processes that each get their own working, media, cache and
temp folders, as separate hosts would, and share only what their environment names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis

from tests.conftest import ROOT, wait_for

S3_ACCESS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing", "S3_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


class RedisServer:
    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        wait_for(lambda: _answers(client), timeout=20, message="the test's redis-server")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis writes its append-only file and exits
            self.proc.wait(timeout=20)


class S3Server:
    """`moto` in server mode: a separate process that speaks the S3 HTTP protocol on a free port."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._answers, timeout=60, message="the S3 server (moto) to answer")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited: see {self._log.name}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=S3_ACCESS["S3_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_ACCESS["S3_SECRET_ACCESS_KEY"], region_name=S3_ACCESS["S3_REGION"])

    def new_bucket(self, name: str) -> dict:
        """Create a bucket and return the environment that points the product's storage at it."""
        self.client().create_bucket(Bucket=name)
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": name, "S3_ENDPOINT_URL": self.endpoint_url, **S3_ACCESS}

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self._log.close()


class Machine:
    """One process as if on its own host: its own working directory, home, media, worker cache, temp and
    var folders (all empty at the start), and only the shared services its environment names."""

    def __init__(self, name: str, base: Path, command: list[str], shared_env: dict):
        self.name = name
        self.home = base / name
        self.private = {key: self.home / folder for key, folder in
                        (("MEDIA_ROOT", "media"), ("WORKER_CACHE_DIR", "cache"), ("TMPDIR", "tmp"),
                         ("WEBAPP_VAR_DIR", "var"))}
        for folder in (self.home / "cwd", *self.private.values()):
            folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **shared_env, **{key: str(path) for key, path in self.private.items()},
               "HOME": str(self.home), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log_path = self.home / "output.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=self.home / "cwd", env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def files_in(self, key: str) -> list[Path]:
        return [path for path in self.private[key].rglob("*") if path.is_file()]

    def signal(self, sig: int) -> None:
        """To the main process only, as `docker stop` or systemd's main-process kill would send it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the whole process group, like a power cut."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]


def celery_worker_command(name: str, queues: str, *, beat: bool = False) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-c", "1", "-n", name,
            "--without-gossip", "--without-mingle", "-l", "info", *(["-B", "-s", "beat-schedule"] if beat else [])]


def web_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "webapp.wsgi:application", "-b", f"127.0.0.1:{port}",
            "-w", "1", "--threads", "8", "--timeout", "300"]


def wait_until_serving(url: str, machine: Machine, timeout: float = 120) -> None:
    import urllib.request

    def serving() -> bool:
        if machine.exited():
            raise RuntimeError(f"{machine.name} exited:\n{machine.log()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    wait_for(serving, timeout=timeout, interval=0.5, message=f"{machine.name} to serve {url}")
