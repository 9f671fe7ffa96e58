"""The doctor: a fixed list of named checks of a GWS setup, from the outside in (docs/doctor.md).

``causes`` (the cause registry with stable ids and fixes), ``probe`` (a thin aiohttp probe that keeps
raw evidence and masks secrets), ``bayeux`` (a raw CometD peer), ``http_steps``, ``cometd_steps`` and
``trip_steps`` (the checks), ``context`` (what the steps share), ``run`` (their order and gating) and ``report``
(``Step``, ``Diagnosis``: text, HTML and JSON).  The public entry point is :func:`gwsnb.diagnose`.
"""
