"""A running fake Kubernetes API server and real ``kubernetes`` clients talking to it."""

from collections.abc import Iterator

import kubernetes
import pytest

from kargo_dagster.testing.kube_api import FakeKubeAPI


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        yield server


@pytest.fixture
def client(kube: FakeKubeAPI) -> Iterator[kubernetes.client.ApiClient]:
    api_client = kube.api_client()
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def custom(client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(client)


@pytest.fixture
def core(client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(client)


@pytest.fixture
def batch(client: kubernetes.client.ApiClient) -> kubernetes.client.BatchV1Api:
    return kubernetes.client.BatchV1Api(client)
