"""Receiver URLs are derived from the Project, the receiver's name and its secret, as Kargo
derives them, so they stay stable and cannot be guessed without the secret."""

import hashlib

from kargo_dagster.webhooks.paths import receiver_path, receiver_url


def test_the_path_is_the_type_and_the_sha256_of_project_name_and_secret():
    digest = hashlib.sha256(b"demo" + b"gh" + b"s3cret").hexdigest()
    assert receiver_path("demo", "github", "gh", "s3cret") == f"/github/{digest}"


def test_a_base_url_with_a_path_prefixes_the_receivers_path():
    url = receiver_url("https://kargo.example.com/webhook/", "demo", "quay", "q", "x")
    digest = hashlib.sha256(b"demoqx").hexdigest()
    assert url == f"https://kargo.example.com/webhook/quay/{digest}"


def test_another_secret_gives_another_path():
    assert receiver_path("demo", "github", "gh", "a") != receiver_path("demo", "github", "gh", "b")
