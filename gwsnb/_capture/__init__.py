"""HTTP captures (HAR) of GWS traffic: reading (``har``), the calls in them (``calls``), their frames
(``frames``), redaction (``redact``), the text view (``show``), the timeline plot (``timeline``) and
gwsnb's own HAR writer (``writer``).  Public entry: :mod:`gwsnb.capture` (docs/captures.md).

This room reads evidence: it may use ``protocol``, ``errors``, the data modules (results, frames, labels),
the correlator and the doctor's cause and report types, never the client, the bulk engine or the sandbox.
"""
