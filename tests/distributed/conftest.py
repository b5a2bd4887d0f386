"""A real Dask cluster per test module (scheduler and two workers on 127.0.0.1): a module
that kills a worker does not leave the next module one worker short."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.distributed.dask_cluster import DaskCluster, dask_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running
