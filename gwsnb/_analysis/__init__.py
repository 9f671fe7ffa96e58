"""Private: reading a run or a batch as SQL tables (DuckDB) and the campaign KPIs computed on them.

Used by :meth:`gwsnb.runs.Run.sql`, :meth:`gwsnb.runs.Run.kpis`, :meth:`gwsnb.ChainedRecordBatch.kpis` and
:mod:`gwsnb.progress`; see docs/campaign-progress.md.
"""
