"""The call engine: pairs requests with the notifications that answer them and drives many calls.

``correlate`` (waiters by referenceId, user-event pairing), ``operation_waiters`` (the record operations'
waiters) and ``bulk`` (bounded workers, retries, the outage gate, progress). It sits on the wire and hands
results to the data modules (``gwsnb.results``, ``gwsnb.batch``, ``gwsnb.runs``): see
``docs/architecture.md``.
"""
