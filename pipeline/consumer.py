"""faust's Kafka consumer with a leaner fetch loop.

faust's ``Consumer._drain_messages`` hands every record to the streams through
``Service.wait_first(callback(message), suspend_flow.wait())``: four futures and an
``asyncio.wait`` per record, about a fifth of the worker's CPU. It also advances its read
offset for a record whose hand-over was cancelled by a rebalance, so it can skip the
re-fetched records and commit past them (the engine reads such holes back, see
``processors.positions.Positions.unhandled``).

The loop here races a whole fetch, not each record, against the flow being suspended: a
rebalance still cancels the hand-over in flight (faust's streams block on flow control while
suspended, so a record handed over then would reach the agent after the partition was
revoked). A record's read offset advances only once it was handed over. Everything else
(gap tracking for compacted topics, commit cadence, seeks) is faust's. A full stream buffer
is waited for once, not handed each record through a task of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

_YIELD_EVERY = 100
_SUSPENDED_POLL_S = 0.05
_ROOM_POLL_S = 0.002


class LeanConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer of faust with :meth:`_drain_messages` replaced."""

    def on_buffer_full(self, tp: Any) -> None:
        """Keep fetching ``tp``: the fetch loop waits for room in the buffer instead.

        faust takes a partition whose stream buffer is nearly full out of its fetches until
        the buffer drains; but a fetch already waiting (up to a second) for the remaining
        partitions is not woken when it comes back, which stalled the worker for 0.1 to
        0.7 s every few batches. :meth:`_room` holds the fetch loop instead.
        """

    async def _drain_messages(self, fetcher: Any) -> None:
        self.diag.set_flag(CONSUMER_FETCHING)
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                await self._drain_one_fetch()
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _drain_one_fetch(self) -> None:
        if self.suspend_flow.is_set():
            # A rebalance is under way: faust resumes the flow (and seeks) when it is over.
            await asyncio.sleep(_SUSPENDED_POLL_S)
            return
        records = self.getmany(timeout=1.0)
        await asyncio.sleep(0)  # getmany may return at once, again and again
        if self.should_stop:
            return
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()  # outside the race below: a commit is never cancelled
        # One race per fetch: if the flow is suspended first, the hand-over in flight is
        # cancelled, its record not marked read, and fetched again after the seek.
        await self.wait_first(self._hand_over_all(records), self.suspend_flow.wait())

    async def _hand_over_all(self, records: Any) -> None:
        since_yield = 0
        async for tp, message in records:
            if self.suspend_flow.is_set() or self.should_stop:
                return
            since_yield += 1
            if since_yield > _YIELD_EVERY:
                await asyncio.sleep(0)
                since_yield = 0
            await self._hand_over(tp, message)

    async def _hand_over(self, tp: Any, message: Any) -> None:
        offset = message.offset
        read = self._read_offset[tp]
        if read is not None and offset < read:
            return  # already handed over (a fetch from before a seek)
        if read and offset - read > 1 and self.app.topics.acks_enabled_for(message.topic):
            await self._add_gap(tp, read + 1, offset)  # a compacted range
        await self._room(tp)
        await self.callback(message)
        self._read_offset[tp] = offset

    async def _room(self, tp: Any) -> None:
        """Wait until the streams reading ``tp`` have room for a record.

        faust hands a record to a full stream buffer through a task and an ``asyncio.wait``
        of its own; once the agent lags, that is every record. Waiting here until a buffer is
        half empty hands the next records over the quick way.
        """
        conductor: Any = self.app.topics
        for channel in conductor._tp_index.get(tp, ()):
            queue = channel.queue
            if queue.full():
                while queue.qsize() > queue.maxsize // 2 and not self.suspend_flow.is_set():
                    await asyncio.sleep(_ROOM_POLL_S)


class LeanTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, consuming with :class:`LeanConsumer`."""

    Consumer = LeanConsumer
