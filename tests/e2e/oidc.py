"""A real OpenID Connect provider (npm `oidc-provider`, tests/node/oidc_provider.mjs) under node.

`OidcProvider(node_modules, redirect_uri)` starts it on a free loopback port and stops it at
the end; `set_account(login, **claims)` writes the claims its next lookup of `login` returns.
"""

import json
import socket
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

CLIENT_ID = "atelier"
# A test-only client of a test-only provider.
CLIENT_SECRET = "a-test-client-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OidcProvider:
    def __init__(self, node_modules: Path, redirect_uri: str) -> None:
        self.script = node_modules.parent / "oidc_provider.mjs"
        self.redirect_uri = redirect_uri
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts: dict[str, dict] = {}

    def __enter__(self) -> "OidcProvider":
        self._folder = TemporaryDirectory()
        folder = Path(self._folder.name)
        self.accounts_file = folder / "accounts.json"
        self.accounts_file.write_text("{}")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PORT": str(self.port),
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "REDIRECT_URI": self.redirect_uri,
            "ACCOUNTS": str(self.accounts_file),
        }
        self.log = folder / "provider.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                ["node", str(self.script)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_up()
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {self.log.read_text()}")
            try:
                httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"oidc-provider did not start: {self.log.read_text()}")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._folder.cleanup()

    def set_account(self, login: str, **claims) -> None:
        self.accounts[login] = claims
        self.accounts_file.write_text(json.dumps(self.accounts))
