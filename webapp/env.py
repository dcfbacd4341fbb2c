"""Reading settings from the environment: typed values that fail loudly on bad input, the
secret key of a single machine, and django-storages' S3 options from its conventional variables.
"""

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envrate(prefix: str, count: int, seconds: int) -> tuple[int, int]:
    """A rate limit from PREFIX_COUNT and PREFIX_SECONDS: (requests, seconds), both at least 1."""
    rate = (envint(f"{prefix}_COUNT", count), envint(f"{prefix}_SECONDS", seconds))
    if min(rate) < 1:
        raise ImproperlyConfigured(f"{prefix}_COUNT and {prefix}_SECONDS must be 1 or more")
    return rate


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envorigins(name: str) -> list[str]:
    """Web origins, as `scheme://host:port`, from `host`, `host:port` or `scheme://host[:port]`.

    Trust goes to exact origins, never to every port of a host. A bare host means its two web
    ports (https on 443, http on 80): what a person naming a web host means, and a CDN that
    redirects from one to the other still works. `host:port` means that one port over either
    scheme (it is one server whichever it speaks); a scheme given narrows it to that scheme.
    """
    origins = []
    for entry in envlist(name):
        parts = urlsplit(entry if "://" in entry else f"//{entry}")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if (
            parts.scheme not in ("", "http", "https")
            or not parts.hostname
            or port == 0
            or "@" in parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not host, host:port or http(s)://host[:port]"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        for scheme in [parts.scheme] if parts.scheme else ["https", "http"]:
            origins.append(f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}")
    return origins


def envnetworks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses and networks, comma-separated: `10.0.0.5`, `10.0.0.0/8`, `fd00::/8`."""
    networks = []
    for entry in envlist(name):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return networks


def secret_key(var_dir: Path) -> str:
    """Use SECRET_KEY, or a random key kept in var/ so a local install keeps its sessions.

    The file is readable by its owner only from the moment it exists (mkstemp makes it 0600),
    and appears whole: written under a temporary name, then linked into place. Of processes
    starting at once, the first to link wins and the others read its key.
    """
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=var_dir, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as f:
                f.write(secrets.token_urlsafe(50))
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def s3_options(env: Mapping[str, str], link_seconds: int = 300) -> dict:
    """django-storages' S3Storage options, from its conventional variables in `env`.

    A key pair left unset is None, so boto3 looks in its own places (instance roles, ~/.aws).
    """
    endpoint = env.get("AWS_S3_ENDPOINT_URL") or None
    options = {
        "bucket_name": env["AWS_STORAGE_BUCKET_NAME"],
        "endpoint_url": endpoint,
        "access_key": env.get("AWS_ACCESS_KEY_ID") or None,
        "secret_key": env.get("AWS_SECRET_ACCESS_KEY") or None,
        "region_name": env.get("AWS_S3_REGION_NAME") or None,
        # MinIO and most self-hosted stores have no wildcard DNS for bucket subdomains.
        "addressing_style": env.get("AWS_S3_ADDRESSING_STYLE") or ("path" if endpoint else None),
        "signature_version": "s3v4",
        "default_acl": None,  # private: objects inherit the bucket's (closed) policy
        "querystring_auth": True,
        "querystring_expire": link_seconds,
        # Keys are deterministic; the pipeline decides whether a stored object is kept.
        "file_overwrite": True,
        # Reads of a whole object past this size spill to a temporary file, never MEDIA_ROOT.
        "max_memory_size": 8 * 1024 * 1024,
    }
    if domain := env.get("AWS_S3_CUSTOM_DOMAIN", ""):
        key_id, key = env.get("AWS_CLOUDFRONT_KEY_ID", ""), env.get("AWS_CLOUDFRONT_KEY", "")
        if not (key_id and key):
            # An unsigned CDN link would let anyone holding it see a private image forever.
            raise ImproperlyConfigured(
                "AWS_S3_CUSTOM_DOMAIN needs AWS_CLOUDFRONT_KEY_ID and AWS_CLOUDFRONT_KEY, so the "
                "links Atelier hands out are signed and expire; without them, unset it"
            )
        options |= {"custom_domain": domain, "cloudfront_key_id": key_id, "cloudfront_key": key}
    return options


def media_origins(storage: dict, stream: bool) -> list[str]:
    """Where the browser is sent for media (for the CSP), when the file views redirect there."""
    options = storage.get("OPTIONS", {})
    if stream or "bucket_name" not in options:
        return []
    if options.get("custom_domain"):
        return [f"https://{options['custom_domain']}"]
    bucket, path_style = options["bucket_name"], options["addressing_style"] == "path"
    if options["endpoint_url"]:
        parts = urlsplit(options["endpoint_url"])
        return [f"{parts.scheme}://{parts.netloc if path_style else f'{bucket}.{parts.netloc}'}"]
    hosts = ["s3.amazonaws.com"]
    if region := options["region_name"]:
        hosts.append(f"s3.{region}.amazonaws.com")
    return [f"https://{host if path_style else f'{bucket}.{host}'}" for host in hosts]
