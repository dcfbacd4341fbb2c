"""The embedded default cache (no Redis): Django's file cache, made fit to hold rate counters.

Django's `FileBasedCache` keeps MAX_ENTRIES files (300 by default) and then deletes a random
third of them, live or expired, and its `incr` is a read then a write that concurrent requests
overwrite. Rate counters (gallery.accounts.ratelimit) leave one file per window, so ordinary traffic
reached the limit and began deleting live counters, and anyone could flood it with fresh keys
to wipe the counters holding them back. Here:

- a cull first removes what has expired; only when live entries alone are over the limit does
  it remove some, those with the fewest hits first: a flood of fresh keys (one hit each) goes
  before a counter that is holding someone back;
- the directory is read for a cull at most every CULL_EVERY seconds per process, not on every
  write, so a large MAX_ENTRIES costs nothing on the way;
- `add`, `set`, `touch` and `incr` hold one lock on the directory, so concurrent hits are all
  counted; `incr` keeps the entry's expiry (Django's writes its default timeout back).
"""

import os
import pickle
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.files import locks
from django.core.files.move import file_move_safe

# When each cache directory may next be read for a cull, in this process.
_next_cull: dict[str, float] = {}


class CounterFileCache(FileBasedCache):
    # FileBasedCache's own, which django-stubs leaves out.
    _dir: str
    _createdir: Callable[[], None]
    _key_to_file: Callable[..., str]
    _delete: Callable[[str], bool]
    _list_cache_files: Callable[[], list[str]]

    def __init__(self, dir: str, params: dict) -> None:
        super().__init__(dir, params)
        self._cull_every = float(params.get("OPTIONS", {}).get("CULL_EVERY", 5))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._createdir()
        with open(os.path.join(self._dir, "lock"), "ab") as f:
            locks.lock(f, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(f)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._locked():
            if self.has_key(key, version):
                return False
            super().set(key, value, timeout, version)
            return True

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        with self._locked():
            super().set(key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._locked():
            return super().touch(key, timeout, version)

    def incr(self, key, delta=1, version=None) -> int:
        fname = self._key_to_file(key, version)
        with self._locked():
            entry = self._read(fname)
            if entry is None:
                raise ValueError(f"Key '{key}' not found")
            expiry, value = entry
            value += delta
            self._write(fname, expiry, value)
        return value

    def _read(self, fname: str) -> tuple[float | None, object] | None:
        """(expiry, value) of an entry; None when it is missing or expired (then removed).

        Pickles, as Django's file cache writes them, in a directory only this app writes (0700).
        """
        try:
            with open(fname, "rb") as f:
                expiry = pickle.load(f)  # noqa: S301
                if expiry is not None and expiry < time.time():
                    f.close()
                    self._delete(fname)
                    return None
                return expiry, pickle.loads(zlib.decompress(f.read()))  # noqa: S301
        except (FileNotFoundError, EOFError, pickle.UnpicklingError, zlib.error):
            return None

    def _write(self, fname: str, expiry: float | None, value: object) -> None:
        """Replace an entry whole, keeping the expiry it had."""
        fd, tmp_path = tempfile.mkstemp(dir=self._dir)
        try:
            with open(fd, "wb") as f:
                f.write(pickle.dumps(expiry, self.pickle_protocol))
                f.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
            file_move_safe(tmp_path, fname, allow_overwrite=True)
        except BaseException:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)
            raise

    def _cull(self) -> None:
        now = time.monotonic()
        if now < _next_cull.get(self._dir, 0.0):
            return
        _next_cull[self._dir] = now + self._cull_every
        files = self._list_cache_files()
        if len(files) < self._max_entries:
            return
        live = []
        for fname in files:
            if (entry := self._read(fname)) is not None:  # an expired one is removed here
                live.append((entry[1] if isinstance(entry[1], int) else 0, fname))
        if len(live) >= self._max_entries:
            keep = self._max_entries - self._max_entries // max(self._cull_frequency, 1)
            for _hits, fname in sorted(live)[: len(live) - keep]:
                self._delete(fname)
