"""docker-compose scales: `up --scale web=2 --scale worker=3` behind the bundled nginx.

Docker does not run here; the file is read as compose reads it, and nginx (when installed)
checks the proxy's configuration.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def test_it_has_the_processes_a_deployment_needs():
    assert set(SERVICES) >= {"db", "redis", "migrate", "web", "worker", "beat", "proxy"}


def test_only_the_proxy_publishes_a_port_so_web_and_worker_can_be_scaled():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"proxy"}
    for name in ("web", "worker"):
        # A fixed name or host port allows one container only.
        assert "container_name" not in SERVICES[name]
    assert SERVICES["web"]["expose"] == ["8000"]
    assert "0.0.0.0:8000" in SERVICES["web"]["command"]


def test_migrations_run_once_before_web_worker_and_beat():
    assert "manage.py migrate" in SERVICES["migrate"]["command"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert "migrate" not in SERVICES[name]["command"]
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}


def test_web_is_checked_by_its_liveness_endpoint():
    assert "/healthz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_the_proxy_sends_media_from_the_volume_web_and_workers_write():
    environment = SERVICES["web"]["environment"]
    internal = environment["MEDIA_ACCEL_REDIRECT"]
    conf = NGINX_CONF.read_text()
    block = re.search(rf"location {re.escape(internal)} \{{(.*?)\}}", conf, re.DOTALL)
    assert block, f"no location {internal} in {NGINX_CONF}"
    assert "internal;" in block.group(1)
    # The Dockerfile's VAR_DIR=/data: media at /data/media, the volume every service mounts.
    assert "alias /data/media/;" in block.group(1)
    assert "media:/data/media" in SERVICES["web"]["volumes"]
    assert "media:/data/media:ro" in SERVICES["proxy"]["volumes"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in SERVICES["proxy"]["volumes"]


def test_the_proxy_spreads_requests_over_every_web_replica():
    conf = NGINX_CONF.read_text()
    # Resolved per request through Docker's DNS, which names every replica of `web`.
    assert "resolver 127.0.0.11" in conf
    assert "set $web http://web:8000;" in conf and "proxy_pass $web;" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_proxy_configuration(tmp_path):
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {NGINX_CONF};\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
