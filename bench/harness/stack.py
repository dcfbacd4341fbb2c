"""Start a private Atelier stack for one bench run, and take it all down again.

`Stack` makes a temporary VAR_DIR (under $VAR_DIR when set), a database (SQLite there, or a
dedicated PostgreSQL database when DATABASE_URL is set), runs `manage.py migrate`, starts
gunicorn serving the sandbox on a free 127.0.0.1 port and one Celery worker (no beat), and sets
up Django in this process against the same database and broker. Leaving the `with` block (or
SIGTERM/SIGINT) stops the processes, drops the PostgreSQL database and removes the directory.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (Linux /proc), 0.0 elsewhere."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: split after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        child, parent = int(entry.name), int(fields[1])
        children.setdefault(parent, []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += children.get(current, [])
    return total


def operator_keys() -> dict[str, str]:
    """The keys an operator gives every process of a site; on PostgreSQL with DEBUG off the
    app refuses to start without them (webapp/hosts.py)."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(40),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


class StackError(RuntimeError):
    pass


class Stack:
    """Web server + one Celery worker + database, private to one bench run."""

    def __init__(
        self,
        name: str,
        *,
        latency: float,
        pool: str = "threads",
        concurrency: int = 8,
        web_workers: int = 2,
        web_threads: int = 4,
        keep: bool = False,
    ) -> None:
        self.name = name
        self.latency = latency
        self.pool = pool
        self.concurrency = concurrency
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.keep = keep
        self.processes: dict[str, subprocess.Popen] = {}
        self.var_dir = Path()
        self.port = 0
        self.env: dict[str, str] = {}
        self.pg_admin_url = ""
        self.pg_name = ""
        self.broker = "redis" if os.environ.get("REDIS_URL") else "filesystem"
        self.database = "sqlite"
        self._old_handlers: dict[int, object] = {}

    # -- set up ---------------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        try:
            self._start()
        except BaseException as e:
            if isinstance(e, StackError):
                self.print_logs()
            self._stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            self.print_logs()
        self._stop()

    def _on_signal(self, signum, _frame) -> None:
        raise SystemExit(128 + signum)

    def _start(self) -> None:
        base = Path(os.environ.get("VAR_DIR") or tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=base))
        self.port = free_port()
        env = {
            "VAR_DIR": str(self.var_dir),
            "MEDIA_ROOT": str(self.var_dir / "media"),
            "BROKER_DIR": str(self.var_dir / "broker"),
            **operator_keys(),
            "PORT": str(self.port),
            "SANDBOX_ENABLED": "1",
            "SANDBOX_BASE_URL": f"http://127.0.0.1:{self.port}/sandbox",
            "SANDBOX_LATENCY": str(self.latency),
            "SANDBOX_FAILURE": "",  # the sandbox's injected failures, if configured: none here
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "PYTHONUNBUFFERED": "1",
        }
        env["DATABASE_URL"] = self._database_url()
        self.env = {**os.environ, **env}
        os.environ.update(env)  # this process uses the same database and broker
        routes = json.dumps(self.routes())  # needs the environment above: settings read it
        os.environ["BENCH_TASK_ROUTES"] = self.env["BENCH_TASK_ROUTES"] = routes
        self._run([sys.executable, "manage.py", "migrate", "--noinput"], "migrate")
        self._setup_django()
        self._start_web()
        self._start_worker()

    def _database_url(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
            return f"sqlite:///{self.var_dir / 'atelier.sqlite3'}"
        import psycopg

        self.database = "postgresql"
        parts = urlsplit(url)
        # CREATE/DROP DATABASE from the maintenance database, which always exists.
        self.pg_admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        name = f"atelier_bench_{self.name}"
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.pg_name = name  # from here on, ours to drop
        return urlunsplit(parts._replace(path=f"/{name}"))

    @property
    def queues(self) -> dict[str, str]:
        """The product's queues (those its routes name) and the private names this run uses."""
        from django.conf import settings

        names = sorted({route["queue"] for route in settings.CELERY_TASK_ROUTES.values()})
        return {q: f"bench-{self.name}-{q}" for q in names}

    def routes(self) -> dict[str, dict[str, str]]:
        from django.conf import settings

        return {
            task: {**route, "queue": self.queues[route["queue"]]}
            for task, route in settings.CELERY_TASK_ROUTES.items()
        }

    def _purge(self) -> None:
        """Drop what an interrupted earlier run left in our private queues (Redis only)."""
        if self.broker != "redis":
            return
        from webapp.celery import app

        with app.connection_for_write() as conn:
            for queue in self.queues.values():
                with contextlib.suppress(Exception):
                    conn.default_channel.queue_purge(queue)

    def _run(self, command: list[str], what: str) -> None:
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise StackError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _setup_django(self) -> None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from bench.harness import worker
        from webapp.celery import app

        worker.configure(app)  # this process publishes the first tasks
        self._purge()

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "w")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can stop all it started
        )
        log.close()
        self.processes[name] = process
        return process

    def _start_web(self) -> None:
        process = self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "webapp.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "--access-logfile",
                str(self.var_dir / "access.log"),
                # Not the shared ~/.gunicorn/gunicorn.ctl another server on this machine may use.
                "--no-control-socket",
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"gunicorn exited with {process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/login/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError("gunicorn did not answer within 60 s")

    def _start_worker(self) -> None:
        process = self._spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "bench.harness.worker",
                "worker",
                "-n",
                f"bench-{self.name}@%h",
                "-Q",
                ",".join(self.queues.values()),
                "--pool",
                self.pool,
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )
        log = self.var_dir / "worker.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"the Celery worker exited with {process.returncode}")
            if " ready." in log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise StackError("the Celery worker was not ready within 60 s")

    def replace_worker(self) -> None:
        """SIGKILL the worker and all it started, as a host that is gone, then start another."""
        process = self.processes["worker"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self._start_worker()

    # -- while running --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def description(self) -> str:
        broker = self.broker
        return (
            f"{self.database} + {broker} broker, 1 worker process "
            f"(--pool {self.pool} --concurrency {self.concurrency}), gunicorn "
            f"{self.web_workers}x{self.web_threads}"
        )

    def cpu_seconds(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(p.pid) for name, p in self.processes.items()}

    def count_tasks(self) -> int:
        """Tasks the worker has finished so far (its INFO log has a line for each)."""
        path = self.var_dir / "worker.log"
        with path.open(errors="replace") as f:
            return sum("] succeeded in " in line or "] raised " in line for line in f)

    def count_requests(self, fragment: str) -> int:
        path = self.var_dir / "access.log"
        if not path.exists():
            return 0
        with path.open(errors="replace") as f:
            return sum(fragment in line for line in f)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                code, why = process.returncode, self._why(name)
                raise StackError(f"{name} exited with {code} during the run{why}")

    def _why(self, name: str) -> str:
        log = (self.var_dir / f"{name}.log").read_text(errors="replace")
        if "JSONDecodeError" in log and "transport/filesystem.py" in log:
            return (
                ": kombu's filesystem transport read a message file before it was written "
                "(kombu issue #1551); the message is lost and the worker stops"
            )
        return ""

    def print_logs(self, lines: int = 30) -> None:
        for name in ("worker", "web"):
            path = self.var_dir / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                print(f"--- last lines of {name}.log", *tail, sep="\n", file=sys.stderr)

    # -- tear down ------------------------------------------------------------------------

    def _stop(self) -> None:
        # Worker first, so nothing is half-way through a request when the web server goes.
        for name in ("worker", "web"):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # anything of its group still left
            process.wait(timeout=10)
        if self.broker == "redis":
            self._forget_queues()
        if self.pg_name:
            try:
                self._drop_database()
            except Exception as e:
                print(f"warning: could not drop {self.pg_name}: {e}", file=sys.stderr)
        if self.var_dir.name and not self.keep:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        elif self.keep:
            print(f"kept {self.var_dir}", file=sys.stderr)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _forget_queues(self) -> None:
        """Remove our private queues and kombu's routing keys for them from Redis."""
        try:
            import redis

            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            for queue in self.queues.values():
                client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            client.close()
        except Exception as e:
            print(f"warning: could not remove the bench queues from Redis: {e}", file=sys.stderr)

    def _drop_database(self) -> None:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet; nothing to close then
            pass
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def make_user(username: str = "bench"):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username, password=secrets.token_urlsafe(12))


def wait_terminal(stack: Stack, ids: list[int], timeout: float, label: str) -> bool:
    """Wait until every generation has ended; print progress now and then. False on timeout."""
    from gallery.models import Generation

    started = time.monotonic()
    last_note = started
    while True:
        ended = Generation.objects.filter(pk__in=ids, status__in=Generation.TERMINAL).count()
        if ended == len(ids):
            return True
        now = time.monotonic()
        if now - started > timeout:
            return False
        if now - last_note >= 15:
            print(f"  {label}: {ended}/{len(ids)} ended after {now - started:.0f} s", flush=True)
            last_note = now
        stack.check_alive()
        time.sleep(0.25)


def owner_fields(user) -> dict:
    """Who a generation belongs to: the user, and their personal team and gallery if the
    schema has teams (a form would fill these in; bulk_create needs them given)."""
    from gallery.models import Generation

    names = {f.name for f in Generation._meta.get_fields()}
    fields: dict = {"owner": user}
    if "team" in names:
        from gallery.models import Team

        team = Team.objects.filter(memberships__user=user).order_by("-personal", "pk").first()
        if team is None:
            team = Team.objects.create(name=user.get_username(), personal=True)
        fields["team"] = team
        if "gallery" in names and hasattr(team, "default_gallery"):
            fields["gallery"] = team.default_gallery()
    return fields


def create_generations(count: int, model_id: str, params, username: str = "bench") -> list[int]:
    """Bulk-create `count` queued generations for a new user; `params(i)` gives each one's."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from gallery.models import Generation
    from jobs import catalog

    user = make_user(username)
    owner = owner_fields(user)
    now = timezone.now()
    model = catalog.get(model_id)
    seconds = (model and model.deadline) or settings.GENERATION_DEADLINE
    rows = [
        Generation(
            **owner,
            model_id=model_id,
            provider=model.provider if model else "sandbox",
            prompt=f"bench {model_id} {i}",
            params=params(i),
            created_at=now,
            touched_at=now,
            deadline_at=now + timedelta(seconds=seconds),  # bulk_create skips save(), which sets it
        )
        for i in range(count)
    ]
    Generation.objects.bulk_create(rows, batch_size=500)
    ids = list(Generation.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
    open_ledger(Generation.objects.filter(pk__in=ids))
    return ids


def open_ledger(generations) -> None:
    """The ledger rows `jobs.start.start_generation` writes with each generation (when the
    schema has a ledger), so the final transition settles one, as in the product."""
    try:
        from gallery.models import Price, Usage
    except ImportError:
        return
    from gallery.usage.prices import images_requested

    entries = []
    for g in generations.select_related("owner", "team"):
        cost, source = Price.estimate(g.model_id, g.provider, g.params)
        entries.append(
            Usage(
                generation=g,
                user=g.owner,
                team=g.team,
                user_name=g.owner.get_username(),
                team_name=g.team.name,
                provider=g.provider,
                model_id=g.model_id,
                created_at=g.created_at,
                images=images_requested(g.model_id, g.params),
                estimated_usd=cost,
                cost_usd=cost,
                cost_source=source,
            )
        )
    Usage.objects.bulk_create(entries, batch_size=500)


def enqueue_submits(ids: list[int]) -> float:
    """Send every submit task, as the web view does after creating a row; seconds it took."""
    from jobs import tasks

    started = time.monotonic()
    for pk in ids:
        tasks.submit.delay(pk)
    return time.monotonic() - started
