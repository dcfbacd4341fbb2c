"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's `filesystem://` transport creates a message file and then writes it; a consumer lists
the folder and takes any `*.msg` file without waiting, so it can take one that is still empty,
fail to parse it and stop the worker (kombu issue #1551) with the message lost. Here each
message is written under a name consumers ignore, then renamed into place whole.
"""

import os
import shutil
import uuid
from queue import Empty
from time import monotonic, monotonic_ns, sleep

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # type: ignore[override]
        # Ordered by time as kombu's names are, but to the nanosecond and zero-padded, so names
        # sort in the order they were sent (kombu's milliseconds tie, and sort "999" after
        # "1000"); visible only once complete.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        partial = f"{path}.part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc

    # A look at the folder serves every queue: a consumer that finds one queue empty asks about
    # the next at once. A queue found empty is looked for again after `list_again`, or, while
    # messages of another queue seen in the last look are still being taken, after
    # `polling_interval`, as often as an idle worker looks: not once per message.
    list_again = 0.005

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._waiting: dict[str, list[str]] = {}  # per queue, newest first (popped from the end)
        self._listed_at = float("-inf")

    def _get(self, queue):  # type: ignore[override]
        # As kombu's, which lists and sorts the whole folder, and walks it name by name, for
        # every message, also for a queue with none: ~1 ms per message with a thousand waiting.
        # Here one look is kept and taken from, oldest first, until it runs out.
        while True:
            waiting = self._waiting.get(queue)
            if not waiting:
                busy = any(self._waiting.values())
                wait = (self.connection.polling_interval or 0) if busy else self.list_again
                if monotonic() - self._listed_at < wait:
                    raise Empty()
                self._look()
                waiting = self._waiting.get(queue)
                if not waiting:
                    raise Empty()
            name = waiting.pop()
            path = os.path.join(self.data_folder_in, name)
            # Taken by renaming it in the same folder (atomic, never a copy), under a name no
            # consumer looks for; a name another consumer took first fails and is skipped.
            taken = f"{path}.taken"
            try:
                os.rename(path, taken)
            except OSError:
                continue
            try:
                with open(taken, "rb") as f:
                    payload = f.read()
                if self.store_processed:
                    shutil.move(taken, os.path.join(self.processed_folder, name))
                else:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            return loads(bytes_to_str(payload))

    def _look(self) -> None:
        waiting: dict[str, list[str]] = {}
        for name in os.listdir(self.data_folder_in):
            # "<time>_<uuid>.<queue>.msg"; partial and taken files end otherwise.
            if name.endswith(".msg"):
                waiting.setdefault(name.partition(".")[2][:-4], []).append(name)
        for names in waiting.values():
            names.sort(reverse=True)
        self._waiting = waiting
        self._listed_at = monotonic()

    def _purge(self, queue):  # type: ignore[override]
        self._waiting.pop(queue, None)
        return super()._purge(queue)


class Transport(filesystem.Transport):
    Channel = Channel
    # kombu sleeps `polling_interval` after every empty look, also when the worker did not look
    # because every prefetch slot was taken: a slot freed meanwhile then idles up to that long
    # (0.05 s per task on average in bench/throughput.py). While a consumer is held back only
    # by its slots, look again soon; an idle worker still lists the folder every interval.
    busy_interval = 0.005

    def drain_events(self, connection, timeout=None):  # type: ignore[override]
        started = monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[union-attr]
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None  # socket.timeout, as kombu raises
                interval = self.busy_interval if self._held_back() else self.polling_interval
                if interval:
                    sleep(min(interval, timeout) if timeout else interval)

    def _held_back(self) -> bool:
        channels = self.channels or []
        return any(c._consumers and not c.qos.can_consume() for c in channels)


TRANSPORT_ALIASES["atomicfs"] = "webapp.broker:Transport"
