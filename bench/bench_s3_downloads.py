"""Adapter archive downloads from S3: throughput and memory of the streaming archive, against reading
the files whole into memory (how downloads worked before, and what django-storages does with S3
objects unless S3_MAX_MEMORY_SIZE is set).

Starts moto's S3 server (the tests' S3 server) on a free port, stores an adapter version's two files
in a bucket (weights of each size given, random bytes; a sparse adapter's weights grow to megabytes),
then builds the download archive with the product's own `webapp.adapters.files.build_archive` and
reads it out in 64 KiB blocks, as the web server sends it. Reports medians of several runs: seconds,
MB/s and the Python heap's peak (tracemalloc) above what was allocated before.

    .venv/bin/python bench/bench_s3_downloads.py [--sizes-mib 8,64] [--runs 3]

Prints a markdown table and writes it to bench/results/s3_downloads.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 64 * 1024


def setup_django(work: Path, s3_env: dict) -> None:
    os.environ.update({"WEBAPP_VAR_DIR": str(work / "var"), "MEDIA_ROOT": str(work / "media"),
                       "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}", **s3_env})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def stored_version(size: int):
    """An adapter version's two files in storage, and the row-like object `build_archive` reads."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    weights = os.urandom(size)
    card = b'{"format_version": 1}'
    prefix = f"adapters/bench/{size}"
    return SimpleNamespace(
        weights_file=default_storage.save(f"{prefix}/adapter.safetensors", ContentFile(weights)),
        card_file=default_storage.save(f"{prefix}/adapter.json", ContentFile(card)),
        sha256=hashlib.sha256(weights).hexdigest(), card_sha256=hashlib.sha256(card).hexdigest(),
        model_line=SimpleNamespace(name="bench line"), number=1, job_id=None, note="", backbone="demo",
        backbone_sha256="", method="sharpzo", class_names=["a", "b"], metrics={},
        created_at=datetime.now(timezone.utc))


def streamed(version) -> int:
    from webapp.adapters.files import build_archive

    _, spool = build_archive(version)
    with spool:
        return sum(len(block) for block in iter(lambda: spool.read(BLOCK), b""))


def whole_in_memory(version) -> int:
    """The former way: each file read whole, the zip built in a BytesIO and sent as one bytes object."""
    from django.core.files.storage import default_storage

    files = {}
    for name, stored in (("adapter.safetensors", version.weights_file), ("adapter.json", version.card_file)):
        with default_storage.open(stored, "rb") as handle:
            files[name] = handle.read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"bench/{name}", data)
    return len(buffer.getvalue())


def measure(fn, version, runs: int) -> dict:
    seconds, peaks, size = [], [], 0
    for _ in range(runs):
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        size = fn(version)
        seconds.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
        tracemalloc.stop()
    median = statistics.median(seconds)
    return {"seconds": median, "mb_s": size / median / 1e6, "peak_mib": statistics.median(peaks) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes-mib", default="8,64")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s3_downloads.md")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.webapp.servers import S3Server

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = S3Server(work / "moto.log")
        try:
            setup_django(work, server.new_bucket("bench"))
            load_before = os.getloadavg()[0]
            rows = []
            for mib in (int(x) for x in args.sizes_mib.split(",")):
                version = stored_version(mib * 2**20)
                new, old = measure(streamed, version, args.runs), measure(whole_in_memory, version, args.runs)
                rows.append(f"| {mib} MiB | {new['seconds']:.2f} s, {new['mb_s']:.1f} MB/s, {new['peak_mib']:.1f} MiB "
                            f"| {old['seconds']:.2f} s, {old['mb_s']:.1f} MB/s, {old['peak_mib']:.1f} MiB "
                            f"| {old['peak_mib'] / max(new['peak_mib'], 0.01):.0f}x |")
            load_after = os.getloadavg()[0]
        finally:
            server.stop()
    cpu = platform.processor() or platform.machine()
    text = "\n".join([
        "# Adapter archive downloads from S3 (moto server)", "",
        "    .venv/bin/python bench/bench_s3_downloads.py " + " ".join(sys.argv[1:]), "",
        f"Medians of {args.runs} runs. Machine: {platform.system()} {cpu}, {os.cpu_count()} logical CPUs, "
        f"1-minute load average {load_before:.1f} before and {load_after:.1f} after (other work shares it). "
        "The S3 server is moto on the same host, so the figures are the product's side (S3 client, hashing, "
        "zip, spool), not a network's.", "",
        "| adapter weights | streamed archive (now): time, throughput, Python heap peak | whole in memory "
        "(before): time, throughput, heap peak | heap ratio |",
        "|---|---|---|---|", *rows, ""])
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
