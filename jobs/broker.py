"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's `filesystem://` transport creates a message file and then writes it; a consumer lists
the folder and takes any `*.msg` file without waiting, so it can take one that is still empty,
fail to parse it and stop the worker (kombu issue #1551) with the message lost. Here each
message is written under a name consumers ignore, then renamed into place whole.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


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


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["atomicfs"] = "jobs.broker:Transport"
