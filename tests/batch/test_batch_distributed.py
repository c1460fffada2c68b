"""Beyond one process: clients pickle as their settings, and the batch API runs in spawned
worker processes and across a real dask cluster (scheduler and workers on loopback)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import httpx
import pytest

from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime
from tests.batch.workers import score
from tests.support.batch_server import BatchServer


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as srv:
        yield srv


def _client(server: BatchServer) -> SageMakerRuntime:
    return SageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=server.url,
        config=Config(read_timeout=20, retries={"mode": "adaptive"}),
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )


def test_a_client_pickles_as_its_settings_and_the_copy_works(server: BatchServer) -> None:
    with _client(server) as client:
        client.invoke_endpoint(EndpointName="ep", Body=b"before")["Body"].read()
        copy = pickle.loads(pickle.dumps(client))
    with copy:
        assert copy.meta.endpoint_url == server.url
        assert copy.meta.config == Config(read_timeout=20, retries={"mode": "adaptive"})
        assert copy.invoke_endpoint(EndpointName="ep", Body=b"after")["Body"].read() == b"after"
    async_copy = pickle.loads(pickle.dumps(AsyncSageMakerRuntime(region_name="eu-west-1")))
    assert async_copy.meta.region_name == "eu-west-1"


def test_a_client_with_a_lent_httpx_client_says_it_cannot_be_pickled() -> None:
    with httpx.Client() as lent:
        client = SageMakerRuntime(
            region_name="us-east-1",
            http_client=lent,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
        )
        with pytest.raises(TypeError, match="lent http_client cannot be pickled"):
            pickle.dumps(client)


def test_the_batch_api_in_spawned_worker_processes(server: BatchServer) -> None:
    chunks = [[b"chunk %d record %d" % (c, r) for r in range(25)] for c in range(4)]
    spawn = multiprocessing.get_context("spawn")
    with _client(server) as client, ProcessPoolExecutor(2, mp_context=spawn) as pool:
        done = list(pool.map(score, [client] * len(chunks), chunks))
    answers = [(body, answer) for chunk in done for body, answer, _ in chunk]
    assert answers == [(body, body) for chunk in chunks for body in chunk]
    pids = {pid for chunk in done for _, _, pid in chunk}
    assert os.getpid() not in pids
    assert set(server.seen.values()) == {1}


def test_the_batch_api_across_a_dask_cluster(server: BatchServer) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (the dev extra has it)"
    )
    chunks = [[b"dask %d record %d" % (c, r) for r in range(20)] for c in range(6)]
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # Its HTTP server (metrics, health) even without a dashboard: on a port of
            # its own, not 8787, which another run of this test may hold.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as dask,
        _client(server) as client,
    ):
        futures = [dask.submit(score, client, chunk, pure=False) for chunk in chunks]
        done = dask.gather(futures)
    answers = [(body, answer) for chunk in done for body, answer, _ in chunk]
    assert answers == [(body, body) for chunk in chunks for body in chunk]
    assert len({pid for chunk in done for _, _, pid in chunk}) == 2  # both workers took part
    assert set(server.seen.values()) == {1}
