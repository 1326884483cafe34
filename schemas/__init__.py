"""Event contract v1: typed events, the one validator and the published JSON Schemas.

- :mod:`schemas.events`: the msgspec Structs (``Navigation``, ``Geolocation``, ``Consent``,
  ``Rights``) and the ``Event`` union.
- :mod:`schemas.validator`: ``decode(raw) -> Event``, ``decode_obj(obj)``, ``encode(event)``,
  ``decode_message(raw, key)`` (one event or each event of an envelope).
- :mod:`schemas.envelope`: the ``batch/1`` envelope of one user's events and its limits.
- :mod:`schemas.contract`: the JSON Schema files shipped next to this module.
"""
