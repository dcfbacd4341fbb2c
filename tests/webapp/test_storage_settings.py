"""The storage settings as an operator gives them: django-storages' variable names."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.settings import media_origins, s3_options

MINIO = {
    "AWS_STORAGE_BUCKET_NAME": "atelier",
    "AWS_S3_ENDPOINT_URL": "http://minio:9000",
    "AWS_ACCESS_KEY_ID": "key",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_S3_REGION_NAME": "us-east-1",
}


def settings_in_a_process(env: dict[str, str]) -> dict:
    """settings.STORAGES and the CSP's img-src of a process started with `env`."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.STORAGES['default'], settings.SECURE_CSP['img-src']]))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    storage, img_src = json.loads(done.stdout)
    return {"storage": storage, "img-src": img_src}


def test_a_bucket_name_turns_s3_on_for_a_private_bucket_with_short_links():
    found = settings_in_a_process(MINIO)
    assert found["storage"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = found["storage"]["OPTIONS"]
    assert options["bucket_name"] == "atelier" and options["endpoint_url"] == "http://minio:9000"
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["querystring_expire"] == 300 and options["addressing_style"] == "path"
    assert found["img-src"] == ["'self'", "data:", "http://minio:9000"]


def test_without_a_bucket_media_stays_on_disk():
    found = settings_in_a_process({})
    assert found["storage"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert found["img-src"] == ["'self'", "data:"]


def test_streaming_media_adds_no_image_origin():
    assert settings_in_a_process({**MINIO, "MEDIA_STREAM": "1"})["img-src"] == ["'self'", "data:"]


def test_links_may_not_outlive_five_minutes():
    found = subprocess.run(
        [sys.executable, "-c", "import webapp.settings"],
        env={**os.environ, "MEDIA_LINK_SECONDS": "3600"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode != 0
    assert "MEDIA_LINK_SECONDS must be 1 to 300, got 3600" in found.stderr


def test_unset_keys_leave_boto3_to_find_its_own():
    options = s3_options({"AWS_STORAGE_BUCKET_NAME": "atelier"})
    assert options["access_key"] is None and options["secret_key"] is None
    assert options["endpoint_url"] is None and options["addressing_style"] is None


def test_amazon_s3_origins_follow_the_bucket_and_region():
    env = {"AWS_STORAGE_BUCKET_NAME": "pix", "AWS_S3_REGION_NAME": "eu-west-3"}
    storage = {"OPTIONS": s3_options(env)}
    assert media_origins(storage, stream=False) == [
        "https://pix.s3.amazonaws.com",
        "https://pix.s3.eu-west-3.amazonaws.com",
    ]


def test_a_cdn_domain_without_signing_keys_is_refused():
    with pytest.raises(ImproperlyConfigured, match="AWS_CLOUDFRONT_KEY_ID and AWS_CLOUDFRONT_KEY"):
        s3_options({**MINIO, "AWS_S3_CUSTOM_DOMAIN": "media.example.com"})


def test_a_cdn_domain_with_signing_keys_is_the_image_origin():
    env = {**MINIO, "AWS_S3_CUSTOM_DOMAIN": "media.example.com"}
    env |= {"AWS_CLOUDFRONT_KEY_ID": "K123", "AWS_CLOUDFRONT_KEY": "-----BEGIN..."}
    options = s3_options(env)
    assert options["custom_domain"] == "media.example.com"
    assert media_origins({"OPTIONS": options}, stream=False) == ["https://media.example.com"]
