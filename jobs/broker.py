"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's `filesystem://` transport creates a message file and then writes it; a consumer lists
the folder and takes any `*.msg` file without waiting, so it can take one that is still empty,
fail to parse it and stop the worker (kombu issue #1551) with the message lost. Here each
message is written under a name consumers ignore, then renamed into place whole.
"""

import os
import shutil
import tempfile
import uuid
from queue import Empty
from time import monotonic, sleep

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # type: ignore[override]
        # The name kombu would give it (ordered by time), visible only once complete.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        partial = f"{path}.part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc

    def _get(self, queue):  # type: ignore[override]
        # As kombu's, which sorts the whole folder and walks it name by name for every message,
        # also for a queue with none: ~1 ms per look with a thousand messages waiting.
        wanted = f"{queue}.msg"
        names = sorted(n for n in os.listdir(self.data_folder_in) if n.partition(".")[2] == wanted)
        folder = self.processed_folder if self.store_processed else tempfile.gettempdir()
        for name in names:
            try:
                shutil.move(os.path.join(self.data_folder_in, name), folder)
            except OSError:
                continue  # another consumer took it
            taken = os.path.join(folder, name)
            try:
                with open(taken, "rb") as f:
                    payload = f.read()
                if not self.store_processed:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


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


TRANSPORT_ALIASES["atomicfs"] = "jobs.broker:Transport"
