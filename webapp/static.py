"""WhiteNoise, able to sit in an async middleware chain.

WhiteNoise's middleware is sync only. Under ASGI, one sync middleware makes Django cross into
a thread for it and back (async_to_sync) for everything below it, that thread blocked until the
view returns: an async view that waits minutes (POST /v1/images/generations) would sit behind a
blocked thread. This one answers static files as WhiteNoise does and otherwise awaits the rest
of the chain directly, so the chain stays async from the server to the view.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:  # DEBUG: looks on disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
