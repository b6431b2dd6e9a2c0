"""``configMap()``, ``secret()``, ``sharedConfigMap()``, ``sharedSecret()`` and ``artifactFrom()``
in expressions, over the resource's maps."""

import pytest

from kargo_dagster.clients.resource_data import (
    ChainedResourceData,
    ResourceRef,
    StaticResourceData,
    StoredObject,
)
from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate, evaluate_template, kargo_functions
from kargo_dagster.expressions.resource_functions import ResourceLookups
from kargo_dagster.freight import Freight, FreightOrigin, Image

APP = Freight(
    origin=FreightOrigin(name="app"),
    images=(Image(repo_url="ghcr.io/acme/app", tag="v1", digest="sha256:0f"),),
)

SOURCE = StaticResourceData(
    config_maps={"shop/settings": {"env": "dev", "replicas": "3"}},
    secrets={"shop/creds": {"token": "s3cr3t-token", "flag": "1"}},
    shared_config_maps={"defaults": {"region": "eu-west-1"}},
    shared_secrets={"slack": {"webhook": "https://hooks.example.com/T0/B0/xyz"}},
)


class Counting:
    """A source that counts the reads that reach ``inner``."""

    def __init__(self, inner: StaticResourceData) -> None:
        self.inner = inner
        self.reads: list[ResourceRef] = []

    def read(self, ref: ResourceRef) -> StoredObject | None:
        self.reads.append(ref)
        return self.inner.read(ref)


def functions(lookups: ResourceLookups) -> dict:
    return kargo_functions(collection={"app": APP}, project="shop", resources=lookups)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("configMap('settings')", {"env": "dev", "replicas": "3"}),
        ("configMap('settings').env", "dev"),
        ("secret('creds').token", "s3cr3t-token"),
        ("sharedConfigMap('defaults').region", "eu-west-1"),
        ("sharedSecret('slack').webhook", "https://hooks.example.com/T0/B0/xyz"),
        # Not found: an empty map, so a missing key is nil.
        ("configMap('nope')", {}),
        ("secret('nope').token", None),
        ("secret('nope').token ?? 'none'", "none"),
        # The Project's objects are not the shared ones, and the other way round.
        ("sharedConfigMap('settings')", {}),
        ("configMap('defaults')", {}),
    ],
)
def test_values(expression, expected):
    assert evaluate(expression, functions(ResourceLookups(SOURCE, "shop"))) == expected


def test_in_a_template_values_are_coerced_like_yaml():
    env = functions(ResourceLookups(SOURCE, "shop"))
    assert evaluate_template("${{ configMap('settings').replicas }}", env) == 3
    assert evaluate_template("${{ quote(configMap('settings').replicas) }}", env) == "3"


def test_each_object_is_read_once_and_callers_get_copies():
    source = Counting(SOURCE)
    lookups = ResourceLookups(source, "shop")
    env = functions(lookups)

    first = evaluate("secret('creds')", env)
    first["token"] = "changed"
    again = evaluate("secret('creds').token", functions(lookups))
    evaluate("configMap('nope')", env)
    evaluate("configMap('nope')", env)

    assert again == "s3cr3t-token"
    assert source.reads == [
        ResourceRef("Secret", "shop", "creds"),
        ResourceRef("ConfigMap", "shop", "nope"),
    ]


def test_nothing_is_read_until_an_expression_calls_for_it():
    source = Counting(SOURCE)
    functions(ResourceLookups(source, "shop"))
    assert source.reads == []


def test_secret_values_long_enough_to_mask_are_remembered():
    lookups = ResourceLookups(SOURCE, "shop")
    env = functions(lookups)
    evaluate("configMap('settings')", env)
    assert lookups.secret_values() == []

    evaluate("secret('creds')", env)
    evaluate("sharedSecret('slack')", env)

    # "1" is too short to mask; ConfigMap values are not secrets.
    assert lookups.secret_values() == ["s3cr3t-token", "https://hooks.example.com/T0/B0/xyz"]


def test_shared_secrets_that_are_not_generic_credentials_read_as_empty():
    class Labelled:
        def read(self, ref: ResourceRef) -> StoredObject | None:
            labels = {"kargo.akuity.io/cred-type": "git"} if ref.name == "git" else {}
            return StoredObject({"password": "git-password"}, labels)

    lookups = ResourceLookups(Labelled(), "shop")
    env = functions(lookups)

    assert evaluate("sharedSecret('git')", env) == {}
    assert evaluate("sharedSecret('unlabelled')", env) == {}
    # In the Project's namespace any Secret can be read.
    assert evaluate("secret('git').password", env) == "git-password"
    assert lookups.secret_values() == ["git-password"]


def test_the_first_source_holding_an_object_answers():
    override = StaticResourceData(config_maps={"shop/settings": {"env": "prod"}})
    lookups = ResourceLookups(ChainedResourceData([override, SOURCE]), "shop")
    env = functions(lookups)
    assert evaluate("configMap('settings')", env) == {"env": "prod"}
    assert evaluate("secret('creds').token", env) == "s3cr3t-token"


def test_without_a_source_every_object_is_empty():
    env = kargo_functions(collection={"app": APP})
    assert evaluate("[configMap('a'), secret('b'), sharedSecret('c')]", env) == [{}, {}, {}]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("secret()", "secret: expected 1 argument, got 0"),
        ("configMap('a', 'b')", "configMap: expected 1 argument, got 2"),
        ("sharedSecret(1)", "sharedSecret: argument must be string, got int"),
        ("sharedConfigMap(nil)", "sharedConfigMap: argument must be string, got nil"),
        ("secret('')", "secret: name must not be empty"),
        ("artifactFrom()", "artifactFrom: expected 1-2 arguments, got 0"),
        ("artifactFrom(1)", "artifactFrom: first argument must be string, got int"),
        (
            "artifactFrom('sub', 'app')",
            "artifactFrom: second argument must be FreightOrigin (use warehouse(name)), got string",
        ),
    ],
)
def test_bad_arguments(expression, message):
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, functions(ResourceLookups(SOURCE, "shop")))
    assert raised.value.message == message


def test_artifact_from_finds_no_generic_artifact():
    # Warehouses here have no generic subscriptions, so no Freight holds such an artifact.
    env = functions(ResourceLookups(SOURCE, "shop"))
    assert evaluate("artifactFrom('manifests')", env) is None
    assert evaluate("artifactFrom('manifests', warehouse('app'))?.Version ?? 'none'", env) == "none"
