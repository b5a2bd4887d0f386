"""Tasks exchange their frames through an object store: a real S3-compatible server (moto's,
an HTTP server on 127.0.0.1) as `s3://` through fsspec and s3fs, the workers given only its
address and credentials in their environment, as a deployment's workers are."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks._costing_ledger import DAYS, START, generate
from pipelines.costing import CostingResult, Sharding, cost_range, cost_range_sharded
from runs.costing_shards import shard_runner
from runs.distributed import open_executor
from tests.distributed.dask_cluster import DaskCluster, dask_cluster

pytestmark = pytest.mark.slow

BUCKET = "reckon-tasks"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto S3 server with one empty bucket; the environment that reaches it."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("s3") / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": url,
        }
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def s3_cluster(
    s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask_s3"), env=s3_env) as running:
        yield running


def _s3(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import s3fs

    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return fs


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_shards_costed_through_an_object_store_equal_one_call(
    s3_env: dict[str, str], s3_cluster: DaskCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = _s3(s3_env, monkeypatch)
    ledger = generate(20_000, 300, seed=3)
    end = START + timedelta(days=DAYS - 1)
    one = cost_range(ledger, None, START, end)
    written: list[str] = []
    with open_executor(s3_cluster.address, f"s3://{BUCKET}/runs") as executor:
        from runs import costing_shards

        original = costing_shards.read_result

        def read_and_record(url: str, start: date, end_: date) -> CostingResult:
            """What the run reads back: first list the shard's objects in the bucket."""
            written.extend(fs.find(url))
            return original(url, start, end_)

        monkeypatch.setattr(costing_shards, "read_result", read_and_record)
        sharded = cost_range_sharded(
            ledger, None, START, end, sharding=Sharding(3, run=shard_runner(executor))
        )
    for name in ("cogs", "consumption", "postings", "valuation", "journals", "flags"):
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))
    # each shard's inputs and the worker's outputs were objects of the bucket ...
    outputs = [key for key in written if "/out/" in key]
    assert {key.split("/shard-")[1][:4] for key in outputs} == {"0000", "0001", "0002"}
    assert any(key.endswith("/out/cogs.parquet") for key in outputs)
    # ... and none is left once the results are read
    assert fs.find(f"{BUCKET}/runs") == []
