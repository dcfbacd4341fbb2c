"""An S3 server over real HTTP for the tests: moto's server mode, started once per session.

It checks no signatures, but it keeps a bucket private as a real store does: a request without
one gets 403. Each test that stores into it gets a bucket of its own.
"""

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from webapp.settings import media_origins, s3_options

REGION = "us-east-1"
S3_BACKEND = "storages.backends.s3.S3Storage"
KEYS = {"AWS_ACCESS_KEY_ID": "atelier-test", "AWS_SECRET_ACCESS_KEY": "atelier-test-secret"}


@dataclass(frozen=True)
class S3Server:
    url: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> "Bucket":
        name = f"atelier-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return Bucket(self, name)


@dataclass(frozen=True)
class Bucket:
    server: S3Server
    name: str

    @property
    def env(self) -> dict[str, str]:
        """The variables an Atelier process reads to store into this bucket."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.server.url,
            "AWS_S3_REGION_NAME": REGION,
            **KEYS,
        }

    def names(self) -> set[str]:
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def settings(self, current) -> dict:
        """What this bucket's variables would set at start, over the `current` settings: media
        in the bucket, and the browser allowed to load images from the store."""
        default = {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(self.env)}
        policy = dict(current.SECURE_CSP)
        policy["img-src"] = [*policy["img-src"], *media_origins(default, stream=False)]
        return {"STORAGES": {**current.STORAGES, "default": default}, "SECURE_CSP": policy}

    def use(self, settings) -> None:
        """Point pytest-django's `settings` at this bucket."""
        for name, value in self.settings(settings).items():
            setattr(settings, name, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server
