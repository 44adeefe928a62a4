"""A source's checks at entry (SEMANTICS.md section 11), run on a batch and recorded in
``dv_check``, one row per check run.

Row checks run inside the stage statement (``templates/base/stage.sql.j2``), which quarantines
the rows that fail them; ``record_row_checks`` counts those per check, in the staging
transaction. Batch checks run on the staged batch before its first entity load
(``run_batch_checks``): each is measured by one query (``Renderer.batch_check``) or from the
ledger, judged by ``datavault.quality``, and recorded; the loader refuses a batch that a check
of severity ``stop`` failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from datavault import model as m
from datavault import quality, schema, values
from datavault.load.batches import LOADED, Batch
from datavault.quality import Outcome
from datavault.render import Renderer


@dataclass
class CheckRun:
    """One row of ``dv_check``."""

    batch_id: int
    source: str
    name: str
    test: str
    severity: str | None
    status: str
    measured: str | None
    expected: str | None
    rows_failed: int | None
    message: str | None
    checked_at: object
    #: a drift check's counts per bin
    profile: dict[str, int] | None = None


class Checks:
    """Runs and records the checks of one model's sources in one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, renderer: Renderer,
                 metadata: sa.MetaData) -> None:
        self.model = model
        self.engine = engine
        self.renderer = renderer
        #: the results table, which a model has where a source has checks
        self.table = metadata.tables.get(schema.CHECK_TABLE)
        self.quarantine = metadata.tables[schema.QUARANTINE_TABLE]
        self.batches = metadata.tables[schema.BATCH_TABLE]

    # ---- row checks, in the staging transaction ------------------------------------------
    def record_row_checks(self, connection: sa.Connection, source: m.Source,
                          batch: Batch) -> tuple[int, list[Outcome]]:
        """The rows staging quarantined in all (reading and row checks), and an outcome
        per row check (the rows it failed), recorded."""
        q = self.quarantine
        rows = connection.execute(
            sa.select(q.c.reason, sa.func.count()).where(
                q.c.batch_id == batch.batch_id, q.c.entity == "").group_by(q.c.reason)).all()
        failed: dict[str, int] = {}
        for reason_text, count in rows:
            for name in quality.failed_names(reason_text):
                failed[name] = failed.get(name, 0) + int(count)
        outcomes = [Outcome(c, quality.QUARANTINED if failed.get(c.name) else quality.PASS,
                            expected=quality.rule(c), rows=failed.get(c.name, 0),
                            message=(quality.rows_quarantined(failed[c.name])
                                     if failed.get(c.name) else ""))
                    for c in source.row_checks]
        self._record(connection, source, batch, outcomes)
        return sum(int(count) for _, count in rows), outcomes

    # ---- batch checks, before the first entity load --------------------------------------
    def run_batch_checks(self, source: m.Source, batch: Batch) -> list[Outcome]:
        """Measure, judge and record every batch check of ``source`` on the staged
        ``batch`` (a run again replaces its results)."""
        outcomes = []
        with self.engine.connect() as connection:
            for check in source.batch_checks:
                outcomes.append(self._judge(connection, source, check, batch))
        with self.engine.begin() as connection:
            self._record(connection, source, batch, outcomes)
        return outcomes

    def _judge(self, connection: sa.Connection, source: m.Source, check: m.Check,
               batch: Batch) -> Outcome:
        if check.test == "freshness":
            latest = batch.snapshot_at if batch.rows_staged else None
            return quality.judge_freshness(check, latest, batch.loaded_at)
        if check.test == "volume":
            return quality.judge_volume(check, batch.rows_read or 0,
                                        self._recent_rows(connection, source, check, batch))
        (statement,) = self.renderer.batch_check(source, check).statements()
        result = statement.execute(connection, {"batch_id": batch.batch_id}).all()
        if check.test == "unique":
            return quality.judge_unique(check, int(result[0][0] or 0))
        profile = {str(name): int(count) for name, count in result}
        return quality.judge_drift(check, profile,
                                   self._profiles(connection, source, check, batch))

    def _recent_rows(self, connection: sa.Connection, source: m.Source, check: m.Check,
                     batch: Batch) -> list[int]:
        b = self.batches
        rows = connection.execute(
            sa.select(b.c.rows_read).where(
                b.c.source == source.name, b.c.status == LOADED,
                b.c.batch_id < batch.batch_id, b.c.rows_read.is_not(None))
            .order_by(b.c.batch_id.desc()).limit(check.batches)).scalars().all()
        return [int(r) for r in rows]

    def _profiles(self, connection: sa.Connection, source: m.Source, check: m.Check,
                  batch: Batch) -> list[dict[str, int]]:
        """The profiles of the check in the source's last loaded batches before ``batch``."""
        t, b = self.table, self.batches
        rows = connection.execute(
            sa.select(t.c.profile).select_from(t.join(b, b.c.batch_id == t.c.batch_id))
            .where(t.c.source == source.name, t.c.check_name == check.name,
                   t.c.profile.is_not(None), b.c.status == LOADED,
                   t.c.batch_id < batch.batch_id)
            .order_by(t.c.batch_id.desc()).limit(check.batches)).scalars().all()
        return [json.loads(r) for r in rows]

    # ---- the results table ---------------------------------------------------------------
    def _record(self, connection: sa.Connection, source: m.Source, batch: Batch,
                outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        t = self.table
        assert t is not None
        if not outcomes[0].check.per_row:  # batch checks run again: their last run replaced
            connection.execute(t.delete().where(t.c.batch_id == batch.batch_id,
                                                t.c.severity.is_not(None)))
        now = values.utcnow()
        connection.execute(t.insert(), [{
            "batch_id": batch.batch_id, "check_name": o.check.name, "source": source.name,
            "test": o.check.test, "severity": None if o.check.per_row else o.check.severity,
            "status": o.status, "measured": o.value if o.rows is None else f"{o.rows:,}",
            "expected": o.expected, "rows_failed": o.rows, "message": o.message or None,
            "profile": None if o.profile is None else json.dumps(o.profile, sort_keys=True),
            "checked_at": now} for o in outcomes])

    def runs(self, *, batch: int | None = None, source: str | None = None,
             limit: int | None = None) -> list[CheckRun]:
        """The recorded check runs, newest batch first, in each batch the source's
        declared order."""
        t = self.table
        assert t is not None, "no source of the model has checks"
        query = sa.select(t.c.batch_id, t.c.source, t.c.check_name, t.c.test, t.c.severity,
                          t.c.status, t.c.measured, t.c.expected, t.c.rows_failed,
                          t.c.message, t.c.checked_at, t.c.profile)
        if batch is not None:
            query = query.where(t.c.batch_id == batch)
        if source is not None:
            query = query.where(t.c.source == source)
        with self.engine.connect() as connection:
            if limit is not None:  # the newest ``limit`` batches with check runs
                newest = sa.select(t.c.batch_id).distinct().order_by(t.c.batch_id.desc())
                if source is not None:
                    newest = newest.where(t.c.source == source)
                if batch is not None:
                    newest = newest.where(t.c.batch_id == batch)
                kept = connection.execute(newest.limit(limit)).scalars().all()
                query = query.where(t.c.batch_id.in_(kept))
            rows = connection.execute(query).all()
        runs = [CheckRun(*row[:-1], profile=None if row[-1] is None else json.loads(row[-1]))
                for row in rows]
        return sorted(runs, key=lambda r: (-r.batch_id, self._order(r)))

    def _order(self, run: CheckRun) -> int:
        source = self.model.sources.get(run.source)
        names = [c.name for c in source.checks] if source is not None else []
        return names.index(run.name) if run.name in names else len(names)
