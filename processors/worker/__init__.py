"""The faust shell of the processors: the only package that imports faust.

The consent core (:mod:`processors.engine` and what it imports) sees records as
:class:`~processors.messages.Msg` and tables through the :class:`~processors.table.Table`
port; everything faust- or Kafka-client-shaped lives here: the app factory
(:func:`create_app`, :mod:`.app`), the agent and timers (:mod:`.agents`), the tables
(:mod:`.tables`), the topics (:mod:`.topics`), the fetch loop (:mod:`.consumer`), the monitor
(:mod:`.monitor`), the fence's side reads (:mod:`.fence`), the sorting of Kafka's errors
(:mod:`.failures`, :mod:`.retry`), the lag and stall probes (:mod:`.probes`,
:mod:`.watchdog`).

faust names the shell relies on that are not faust's public API, each pinned against the
installed faust by ``tests/unit/processors/worker/test_faust_internals.py`` and
``test_consumer.py`` beside it (an upgrade that changes one fails there, not in production):

- ``faust.transport.drivers.aiokafka.Consumer._drain_messages(fetcher)``: the fetch loop
  :class:`~.consumer.LeanConsumer` replaces (the upstream source is pinned by its hash).
- ``Consumer._read_offset``: per-partition read offsets (a defaultdict, ``None`` when unread).
- ``Consumer._add_gap(tp, offset_from, offset_to)``: records a compacted range for commits.
- ``Consumer._n_acked``: acked records since the last commit (the commit cadence).
- ``Conductor._tp_index``: assigned partition -> the channels (and their queues) reading it.
- ``faust.streams._current_event``: the context variable (a weak reference to the event)
  whose ``.message.partition`` files a table access (:class:`~.tables.PartitionedTable`).
- ``faust.stores.base.SerializedStore._get(key)``: one store lookup instead of two.
- ``faust.transport.drivers.aiokafka.Producer._ensure_producer()``: the aiokafka producer,
  asked for the changelogs' partition metadata.

Public hooks the shell overrides or reads, pinned the same way: ``Consumer.on_buffer_full``,
``suspend_flow``, ``consumer_stopped_errors``, ``App.consumer_generation_id``,
``App.rebalancing``, the :class:`faust.sensors.Monitor` hooks and ``stream_inbound_time``,
``faust.Schema.loads_key``/``loads_value``, ``Table(changelog_topic=...)``, the app's
``Table`` setting and ``Table.send_changelog`` (:mod:`.changelog`).
"""

from processors.worker.agents import Worker, create_app

__all__ = ["Worker", "create_app"]
