"""Micro-batching: images from concurrent requests gathered into one model call.

One worker task takes every image queued while the previous call ran; it waits up to
``batch_wait_ms`` for more only while other requests are still being read or decoded, so a
lone request is never held back. Images of one size go into one call (the exported graph
takes a batch of equal-sized images and resizes inside); the call runs in one inference
thread, so the event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class Batcher:
    """``await batcher.predict(images)`` -> one probability row per image, computed in shared model calls."""

    def __init__(self, model: Any, max_batch: int, batch_wait_ms: float) -> None:
        self.model = model
        self.max_batch = max_batch
        self.wait = batch_wait_ms / 1000
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnbuild-inference")
        self.task: asyncio.Task[None] | None = None
        #: requests accepted whose images are still being read or decoded
        self.incoming = 0
        self.calls = 0
        self.images = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def arriving(self) -> None:
        """A request is being read: its images will come (the worker may wait for them)."""
        self.incoming += 1

    def arrived(self) -> None:
        """The request's images are decoded (or it failed): nothing more to wait for from it."""
        self.incoming -= 1

    async def predict(self, images: list[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        futures = []
        for image in images:
            future: asyncio.Future[Any] = loop.create_future()
            self.queue.put_nowait((image, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    async def _gather(self) -> list[tuple[Any, asyncio.Future[Any]]]:
        items = [await self.queue.get()]
        while len(items) < self.max_batch and not self.queue.empty():
            items.append(self.queue.get_nowait())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while len(items) < self.max_batch and self.incoming > 0 and (left := deadline - loop.time()) > 0:
            try:
                items.append(await asyncio.wait_for(self.queue.get(), left))
            except asyncio.TimeoutError:
                break
        return [(image, future) for image, future in items if not future.done()]  # a client that went away

    async def _work(self) -> None:
        import numpy as np

        loop = asyncio.get_running_loop()
        while True:
            items = await self._gather()
            groups: dict[tuple[int, ...], list[tuple[Any, asyncio.Future[Any]]]] = {}
            for image, future in items:
                groups.setdefault(image.shape, []).append((image, future))
            for group in groups.values():
                batch = np.stack([image for image, _ in group])
                try:
                    rows = await loop.run_in_executor(self.executor, self.model, batch)
                except Exception as exc:  # every request in the call gets the error; the worker goes on
                    log.exception("model call on %d image(s) failed", len(group))
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.calls += 1
                self.images += len(group)
                for (_, future), row in zip(group, rows, strict=True):
                    if not future.done():
                        future.set_result(row)
