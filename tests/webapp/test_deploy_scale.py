"""docker-compose scales: `up --scale web=2 --scale worker=3` behind the bundled nginx.

Docker does not run here; the file is read as compose reads it, and nginx (when installed)
checks the proxy's configuration.
"""

import http.server
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
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


class Upstream(http.server.BaseHTTPRequestHandler):
    """Stands in for a web replica: media answers are X-Accel-Redirects, as Atelier's."""

    def do_GET(self):
        self.send_response(200)
        if self.path.startswith("/media/"):
            self.send_header("Content-Type", "image/webp")
            self.send_header("Content-Disposition", 'attachment; filename="atelier-x.webp"')
            self.send_header("X-Accel-Redirect", "/protected-media/" + self.path[len("/media/") :])
            self.end_headers()
            return
        body = json.dumps({"path": self.path, "forwarded": self.headers["X-Forwarded-For"]})
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_passes_requests_and_sends_media_on_x_accel_redirect(tmp_path):
    """The proxy's own configuration, run by nginx with `web` and the volume made local."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    media = tmp_path / "media"
    (media / "thumbnails").mkdir(parents=True)
    (media / "thumbnails" / "x.webp").write_bytes(b"RIFF-not-really-webp")
    port = free_port()
    conf = (
        NGINX_CONF.read_text()
        .replace("http://web:8000", f"http://127.0.0.1:{upstream.server_address[1]}")
        .replace("listen 80 ", f"listen 127.0.0.1:{port} ")
        .replace("alias /data/media/;", f"alias {media}/;")
    )
    (tmp_path / "site.conf").write_text(conf)
    main = tmp_path / "nginx.conf"
    main.write_text(
        # As root here, to read pytest's private temporary folders.
        f"daemon off;\nuser root;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    nginx = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(main)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(50):
                try:
                    page = client.get("/gallery?x=1", headers={"X-Forwarded-For": "198.51.100.7"})
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            media_file = client.get("/media/thumbnails/x.webp")
            direct = client.get("/protected-media/thumbnails/x.webp")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        upstream.shutdown()
    assert page.status_code == 200
    # The client's header, then the address nginx saw: PROXY_HOPS counts from the right.
    assert page.json() == {"path": "/gallery?x=1", "forwarded": "198.51.100.7, 127.0.0.1"}
    assert media_file.status_code == 200
    assert media_file.content == b"RIFF-not-really-webp"
    assert media_file.headers["Content-Type"] == "image/webp"
    assert media_file.headers["Content-Disposition"] == 'attachment; filename="atelier-x.webp"'
    assert direct.status_code == 404  # internal: only an answer from web reaches it
