"""The server's memory budget: the bytes its requests hold at once (bodies being read, images being
decoded, decoded pixels waiting for or inside a model call), across every request in flight.

A request asks before it holds more: its body's length before reading it, each image's decoding
peak (known from the header, :meth:`cnnbuild.export.images.OpenedImage.peak_bytes`) before
decoding it; for a per-pixel (segmentation) model, each image's outputs and the mask answer built
from them (:func:`cnnbuild.serve.masks.answer_bytes`) before the model call, held until the
answers are built. What does not fit waits, up to ``budget_wait_s`` from the request's start, for
other requests to finish; then it is answered 503 with Retry-After. Nothing is decoded on credit,
so the total stays under the budget however many requests arrive. When the last request is done,
the freed memory is handed back to the operating system (:mod:`cnnbuild.serve.memory`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cnnbuild.serve.problems import ApiError

log = logging.getLogger(__name__)

#: a decoded image is held again inside the model as float32 (4 bytes a value)
MODEL_COPIES = 5
#: seconds a client is told to wait before trying again
RETRY_AFTER_S = 2
#: seconds without a request in flight before freed memory is handed back
IDLE_TRIM_S = 0.5


class OverBudget(ApiError):
    """No room in the memory budget within the wait: 503, try again later."""

    def __init__(self, limit: int) -> None:
        super().__init__(503, "busy", f"the server is using its memory budget ({limit / 1e6:,.0f} MB) for other requests; try again in {RETRY_AFTER_S} s")
        self.headers = {"Retry-After": str(RETRY_AFTER_S)}


class MemoryBudget:
    """``limit`` bytes shared by every request; ``used`` now, ``peak`` so far, requests ``refused``."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self.used = 0
        self.peak = 0
        self.refused = 0
        self.requests = 0
        self._freed: asyncio.Condition | None = None
        self._trim: asyncio.TimerHandle | None = None

    def request(self) -> Reservation:
        """What one request holds; release it with ``async with`` (or :meth:`Reservation.release`)."""
        return Reservation(self, asyncio.get_running_loop().time() + self.wait_s)

    def as_dict(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit, "used_bytes": self.used, "peak_bytes": self.peak, "refused_requests": self.refused}

    def check_fits(self, amount: int) -> None:
        """ApiError 413 when ``amount`` bytes could never fit, however long the request waited."""
        if amount > self.limit:
            raise ApiError(413, "over_memory_budget", f"it needs {amount / 1e6:,.0f} MB at once, over the server's whole memory budget of {self.limit / 1e6:,.0f} MB (cnnbuild serve --memory-budget-mb)")

    async def _take(self, amount: int, deadline: float) -> None:
        self.check_fits(amount)
        loop = asyncio.get_running_loop()
        freed = self._condition()
        async with freed:
            while self.used + amount > self.limit:
                left = deadline - loop.time()
                if left <= 0:
                    self.refused += 1
                    raise OverBudget(self.limit)
                try:
                    await asyncio.wait_for(freed.wait(), left)
                except asyncio.TimeoutError:
                    pass
            self.used += amount
            self.peak = max(self.peak, self.used)
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None

    async def _give(self, amount: int) -> None:
        freed = self._condition()
        async with freed:
            self.used -= amount
            freed.notify_all()
        if self.requests == 0 and self.used == 0 and self._trim is None:
            from cnnbuild.serve.memory import return_free_memory

            loop = asyncio.get_running_loop()
            self._trim = loop.call_later(IDLE_TRIM_S, lambda: loop.run_in_executor(None, return_free_memory))

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:
            self._freed = asyncio.Condition()
        return self._freed


class Reservation:
    """The bytes one request holds in the budget; every wait for more ends at the request's ``deadline``."""

    def __init__(self, budget: MemoryBudget, deadline: float) -> None:
        self.budget = budget
        self.deadline = deadline
        self.held = 0

    async def __aenter__(self) -> Reservation:
        self.budget.requests += 1
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.budget.requests -= 1
        await self.release(self.held)

    async def take(self, amount: int) -> None:
        """Hold ``amount`` more bytes, waiting for room; OverBudget (503) when none comes in time."""
        await self.budget._take(amount, self.deadline)
        self.held += amount

    async def release(self, amount: int) -> None:
        """Hold ``amount`` fewer bytes."""
        amount = min(amount, self.held)
        self.held -= amount
        await self.budget._give(amount)


class MeteredRequest:
    """``request`` whose body takes its bytes from ``reservation`` as each chunk arrives (``taken`` so far)."""

    def __init__(self, request: Any, reservation: Reservation) -> None:
        from starlette.requests import Request

        self.taken = 0
        receive = request.receive

        async def metered() -> Any:
            message = await receive()
            if message.get("type") == "http.request" and message.get("body"):
                size = len(message["body"])
                await reservation.take(size)
                self.taken += size
            return message

        self.request = Request(request.scope, metered)
