"""The loader: a batch from its input to every entity it feeds, resumable at any point.

A load of a source holds that source's load lock (see ``Dialect.load_lock``) from the moment
its batch is numbered to its end, so loads of one source never interleave; loads of other
sources run at once, except those of sources that feed one entity taking batches in load-time
order (a non-historized link of two sources), which share a lock, and an entity's first load,
which may hold its tables alone (``Dialect.without_indexes``). Under the lock it first
finishes any earlier batch of the source that a stopped loader left unfinished (the vault's
satellites take batches in load-time order), then skips an input identical to one already
loaded, or stages it as a new batch and runs each entity load in its own transaction (as many
at once as the engine's ``Dialect.concurrent_loads``: they read only the staged batch and write
only their own tables, SEMANTICS.md section 3, property 5). Before
the first entity load of a snapshot batch, it refuses one that would delete more than its
source's ``max_deletes`` of a satellite's live keys (the mass-delete check). The loader never
reads YAML.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.database import redact
from datavault.diagnostics import DatavaultError, did_you_mean
from datavault.dialects import Dialect
from datavault.kinds import engine_needs, kind_of, load_lock_group
from datavault.load.batches import (
    FAILED,
    LOADED,
    LOADING,
    PARTLY,
    STAGED,
    STAGING,
    UNDER_WAY,
    Batch,
    Ledger,
)
from datavault.load.checks import Checks
from datavault.load.entities import EntityLoads, EntityResult
from datavault.load.inputs import BatchInput
from datavault.load.staging import Stager
from datavault.quality import Outcome
from datavault.render import Renderer

Progress = Callable[..., None]
#: how the message of a batch refused by the mass-delete check begins
REFUSED = "refused: "
#: the message of a batch whose staging was interrupted (by Ctrl-C, or a stopped loader)
INTERRUPTED_STAGING = "interrupted while staging; nothing of it was loaded"


def _noop(*_args: object, **_kwargs: object) -> None:
    pass


@dataclass
class LoadResult:
    """What a load (or a resume) did to one batch."""

    batch: Batch
    #: how the batch was read: "copy" (the database read a plain CSV file) or "parser"
    read_by: str = ""
    stage_seconds: float = 0.0
    #: the entity loads run this time (a resume runs only those that had not succeeded)
    entities: list[EntityResult] = field(default_factory=list)
    #: the input was identical to this batch's, already loaded: nothing was done
    skipped: bool = False
    #: earlier batches of the source that were finished first
    resumed: list[LoadResult] = field(default_factory=list)
    #: this call marked the batch loaded (a resume may do only that: its entity loads had
    #: all succeeded before)
    closed: bool = False
    #: the source's checks run on the batch by this call (SEMANTICS.md section 11)
    checks: list[Outcome] = field(default_factory=list)

    @property
    def stopped_by(self) -> list[Outcome]:
        """The checks of severity stop that failed, which refused the batch."""
        return [o for o in self.checks if o.stops]

    @property
    def batch_id(self) -> int:
        return self.batch.batch_id

    @property
    def source(self) -> str:
        return self.batch.source

    @property
    def loaded_at(self) -> dt.datetime:
        return self.batch.loaded_at

    @property
    def status(self) -> str:
        return self.batch.status

    @property
    def rows_read(self) -> int:
        return self.batch.rows_read or 0

    @property
    def rows_staged(self) -> int:
        return self.batch.rows_staged or 0

    @property
    def rows_quarantined(self) -> int:
        return self.batch.rows_quarantined or 0

    @property
    def ok(self) -> bool:
        """Every entity load of the batch succeeded (or the input was loaded before)."""
        return self.skipped or self.batch.status == LOADED


class Loader:
    """Loads batches of one model into one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, dialect: Dialect, renderer: Renderer):
        self.model = model
        self.engine = engine
        self.dialect = dialect
        self.renderer = renderer
        self.metadata = schema.metadata_for(model)
        self.ledger = Ledger(engine, dialect, self.metadata)
        self.checks = Checks(model, engine, renderer, self.metadata)
        self.stager = Stager(model, engine, dialect, renderer, self.ledger, self.checks)
        self.entity_loads = EntityLoads(model, engine, dialect, renderer)

    @property
    def copy_text(self) -> bool:
        """Let the database type a batch's text itself where the dialect can (COPY, SQL)."""
        return self.stager.copy_text

    @copy_text.setter
    def copy_text(self, value: bool) -> None:
        self.stager.copy_text = value

    # ---- whole loads --------------------------------------------------------------------
    def load(self, source_name: str, data: BatchInput, applied_at: dt.datetime | None = None,
             only: Sequence[str] = (), progress: Progress = _noop,
             force: bool = False, allow_mass_delete: bool = False) -> LoadResult:
        """Stage ``data`` as a new batch of ``source_name`` and load every entity it feeds
        (or ``only`` these). An input identical to one already loaded is skipped unless
        ``force``; earlier batches of the source left unfinished are finished first (where
        one of them is this input's own, which a stopped load left, its result is the
        load's).

        A batch of a snapshot source that would delete more than the source's
        ``max_deletes`` of the keys a satellite holds live is refused before any entity
        load: it is ``failed``, its staged rows are removed, and nothing is written to the
        vault. ``allow_mass_delete`` accepts it."""
        source = self._source(source_name)
        entities = self._entities(source, only)
        self._check_applied_at(source, applied_at)
        fingerprint = None if force else data.fingerprint()
        if fingerprint is not None:  # at once, without waiting for the lock
            copy = self.ledger.loaded_copy(source.name, fingerprint[0], entities)
            if copy is not None:
                progress("skipped", batch=copy)
                return LoadResult(copy, skipped=True)
        with self._locked(source.name, progress):
            resumed = self._finish_earlier(source, None, progress)
            if fingerprint is not None:
                copy = self.ledger.loaded_copy(source.name, fingerprint[0], entities)
                own = next((r for r in resumed if r.batch.batch_id == copy.batch_id), None) \
                    if copy is not None else None
                if own is not None:  # this input's own batch, which a stopped load left
                    own.resumed = [r for r in resumed if r is not own]
                    return own
                if copy is not None:
                    progress("skipped", batch=copy)
                    return LoadResult(copy, skipped=True, resumed=resumed)
            result = self._stage_new(source, data, applied_at, entities, progress)
            result.resumed = resumed
            self._run(source, result, progress, allow_mass_delete)
        return result

    def resume(self, batch_id: int, progress: Progress = _noop,
               allow_mass_delete: bool = False) -> LoadResult:
        """Run the entity loads of batch ``batch_id`` that have not succeeded, from its staged
        rows (earlier unfinished batches of its source first). A batch none of whose entity
        loads has begun is checked for mass deletion first, as ``load`` does."""
        batch = self._batch(batch_id)
        source = self._source(batch.source)
        with self._locked(source.name, progress):
            batch = self._batch(batch_id)  # as it is now that no other loader works on it
            if batch.status == LOADED:
                return LoadResult(batch)
            if batch.status == STAGING:
                self._fail_interrupted_staging(batch)
            if batch.status == FAILED:
                refused = (batch.message or "").startswith(REFUSED)
                raise DatavaultError(
                    f"batch {batch_id} of {batch.source} cannot be resumed: it failed "
                    f"({batch.message or 'no reason recorded'}), and nothing of it is staged"
                    + ("" if refused else "; load its input again"))
            resumed = self._finish_earlier(source, batch_id, progress)
            result = LoadResult(batch, resumed=resumed)
            progress("resuming", batch=batch)
            self._run(source, result, progress, allow_mass_delete)
        return result

    # ---- steps, for orchestrators and tests ---------------------------------------------
    def stage(self, source_name: str, data: BatchInput, applied_at: dt.datetime | None = None,
              only: Sequence[str] = (), progress: Progress = _noop,
              allow_mass_delete: bool = False) -> LoadResult:
        """Give ``data`` a batch id and load time and stage it (no entity loads): the
        batch is ``staged``, and ``load_entity`` then ``finish`` (or ``resume``) load it.
        A snapshot batch that would delete too much is refused here as in ``load`` (its
        status is ``failed``); ``resume`` checks it again (pass ``allow_mass_delete`` to
        both to accept it)."""
        source = self._source(source_name)
        entities = self._entities(source, only)
        self._check_applied_at(source, applied_at)
        with self._locked(source.name, progress):
            result = self._stage_new(source, data, applied_at, entities, progress)
            if self._check_batch(source, result, progress) and not allow_mass_delete:
                self._check_deletions(source, result.batch, entities, progress)
            return result

    def load_entity(self, source: m.Source, entity: str,
                    batch: LoadResult | Batch) -> EntityResult:
        """Run one entity's load against a staged batch, with its audit row."""
        batch = batch.batch if isinstance(batch, LoadResult) else batch
        recorded = self._batch(batch.batch_id)
        if recorded.status == FAILED:  # refused, say: nothing of it is staged
            raise DatavaultError(f"batch {batch.batch_id} of {batch.source} failed "
                                 f"({recorded.message}); nothing of it is loaded")
        return self.entity_loads.run(source, entity, batch)

    def finish(self, batch_id: int) -> str:
        """After the entity loads of a staged batch: its state, and its staged rows removed
        when every entity it feeds has been loaded (a failed batch stays failed)."""
        batch = self._batch(batch_id)
        with self._locked(batch.source, _noop):
            batch = self._batch(batch_id)
            if batch.status == FAILED:
                return batch.status
            return self._close(self._source(batch.source), batch, [])

    def is_running(self, source: str) -> bool:
        """Whether a load of ``source`` holds its lock now (its batches under way are being
        worked on; when none does, they were interrupted)."""
        lock = self.dialect.load_lock(self.engine, self._lock_name(source))
        if lock.acquire(blocking=False):
            lock.release()
            return False
        return True

    def _lock_name(self, source: str) -> str:
        """The load lock ``source`` takes: its own, or the one it shares with the sources
        its loads take turns with (``kinds.load_lock_group``)."""
        return " and ".join(load_lock_group(self.model, source))

    # ---- inside the lock ----------------------------------------------------------------
    @contextmanager
    def _locked(self, source: str, progress: Progress) -> Iterator[None]:
        lock = self.dialect.load_lock(self.engine, self._lock_name(source))
        if not lock.acquire(blocking=False):
            under_way = [b for b in self.ledger.unfinished() if b.status in UNDER_WAY]
            holder = next((b for b in reversed(under_way) if b.source == source),
                          under_way[-1] if under_way else None)
            progress("waiting", scope=lock.scope, holder=holder)
            lock.acquire(blocking=True)
            progress("waited", scope=lock.scope)
        try:
            yield
        finally:
            lock.release()

    def _finish_earlier(self, source: m.Source, before: int | None,
                        progress: Progress) -> list[LoadResult]:
        """Finish the batches of ``source`` (before batch ``before``) that a stopped loader
        left unfinished, oldest first; refuse to go on while one cannot be finished."""
        results = []
        for batch in self.ledger.unfinished(source.name):
            if before is not None and batch.batch_id >= before:
                break
            if batch.status == STAGING:
                self._fail_interrupted_staging(batch)
                progress("abandoned", batch=batch)
                continue
            progress("resuming", batch=batch)
            result = LoadResult(batch)
            self._run(source, result, progress)
            results.append(result)
            if batch.status == FAILED and (batch.message or "").startswith(REFUSED):
                continue  # nothing of it is staged any more: later batches need not wait
            if batch.status != LOADED:
                raise DatavaultError(
                    f"batch {batch.batch_id} of {source.name} is {batch.status} "
                    f"({batch.message}); later batches of {source.name} wait for it: fix the "
                    f"cause, then `datavault load --resume {batch.batch_id}`")
        return results

    def _fail_interrupted_staging(self, batch: Batch) -> None:
        batch.status = FAILED
        batch.message = INTERRUPTED_STAGING
        batch.finished_at = values.utcnow()
        self.ledger.update(batch.batch_id, status=FAILED, message=batch.message,
                           finished_at=batch.finished_at)

    def _stage_new(self, source: m.Source, data: BatchInput, applied_at: dt.datetime | None,
                   entities: Sequence[str], progress: Progress) -> LoadResult:
        reader = data.open(source)  # an input without the source's columns: no batch
        try:
            batch = self.ledger.create(source.name, data.description, entities, applied_at,
                                       data.fingerprint())
            progress("batch", batch=batch)
            started = time.perf_counter()
            try:
                read_by, row_checks = self.stager.stage(source, batch, reader, progress)
            except BaseException as exc:
                reason = (redact(str(exc).strip().splitlines()[0]) if str(exc).strip()
                          else type(exc).__name__)
                batch.status, batch.message = FAILED, (
                    INTERRUPTED_STAGING if isinstance(exc, KeyboardInterrupt)
                    else f"staging failed: {reason}")
                self.ledger.update(batch.batch_id, status=FAILED, message=batch.message,
                                   finished_at=values.utcnow())
                raise
        finally:
            reader.close()
        result = LoadResult(batch, read_by=read_by, stage_seconds=time.perf_counter() - started,
                            checks=row_checks)
        progress("staged", batch=batch, seconds=result.stage_seconds)
        return result

    def _run(self, source: m.Source, result: LoadResult, progress: Progress,
             allow_mass_delete: bool = False) -> None:
        """Run the entity loads of a staged batch that have not succeeded, then close it;
        before the first of them, refuse a snapshot that would delete too much."""
        batch = result.batch
        fed = self.model.entities_of(source.name)
        wanted = [e for e in (batch.entities or fed) if e in fed]
        self.dialect.check_needs(f"batch {batch.batch_id} of {source.name}",
                                 engine_needs(self.model, wanted))
        done = self.ledger.succeeded(batch.batch_id)
        if any(e not in done for e in wanted):
            self._check_staged_rows(source, batch)
        if batch.status == STAGED and not done:
            if not self._check_batch(source, result, progress):
                return
            if not allow_mass_delete and not self._check_deletions(source, batch, wanted,
                                                                   progress):
                return
        batch.status = LOADING
        self.ledger.update(batch.batch_id, status=LOADING)
        todo = [e for e in wanted if e not in done]
        try:
            if self.dialect.concurrent_loads > 1 and len(todo) > 1:
                self._run_at_once(source, batch, todo, result, progress)
            else:
                for number, entity in enumerate(todo):
                    progress("entity-start", batch=batch, entity=entity)
                    try:
                        outcome = self.entity_loads.run(source, entity, batch)
                    except KeyboardInterrupt:
                        progress("stopping", batch=batch, running=[], stopped=entity,
                                 waiting=todo[number + 1:])
                        raise
                    result.entities.append(outcome)
                    progress("entity", batch=batch, result=outcome)
        except BaseException:  # interrupted: what succeeded stays, the rest can be resumed
            if all(e in self.ledger.succeeded(batch.batch_id) for e in wanted):
                result.closed = self._close(source, batch, wanted) == LOADED  # all had ended
            else:
                batch.status, batch.message = PARTLY, "interrupted while loading"
                self.ledger.update(batch.batch_id, status=PARTLY, message=batch.message)
            raise
        result.closed = self._close(source, batch, wanted) == LOADED

    def _run_at_once(self, source: m.Source, batch: Batch, todo: Sequence[str],
                     result: LoadResult, progress: Progress) -> None:
        """The entity loads of a batch, each in its own transaction on a connection of its
        own, ``Dialect.concurrent_loads`` at a time (they read only the staged batch and
        write only their own tables); each reported as it starts and as it ends (from this
        thread), results in ``todo``'s order. Interrupted, it starts no other load and lets
        those under way end (saying so), then raises again."""
        waiting = list(todo)
        running: dict[concurrent.futures.Future[EntityResult], str] = {}
        ended: dict[str, EntityResult] = {}

        def collect(futures: Iterable[concurrent.futures.Future[EntityResult]]) -> None:
            for future in futures:
                ended[running.pop(future)] = outcome = future.result()
                result.entities.append(outcome)
                progress("entity", batch=batch, result=outcome)

        workers = min(len(todo), self.dialect.concurrent_loads)
        with concurrent.futures.ThreadPoolExecutor(workers, "datavault-load") as pool:
            try:
                while waiting or running:
                    while waiting and len(running) < workers:
                        entity = waiting.pop(0)
                        progress("entity-start", batch=batch, entity=entity)
                        running[pool.submit(self.entity_loads.run, source, entity, batch)] = entity
                    collect(concurrent.futures.wait(
                        running, return_when=concurrent.futures.FIRST_COMPLETED).done)
            except BaseException:
                if running:
                    progress("stopping", batch=batch, running=list(running.values()),
                             waiting=waiting)
                    collect(concurrent.futures.as_completed(running))
                raise
        result.entities[:] = [ended[e] for e in todo if e in ended]

    def _close(self, source: m.Source, batch: Batch, wanted: Sequence[str]) -> str:
        """Mark a batch loaded (its staged rows removed, in the same transaction) when every
        entity it loads has succeeded, else partly loaded with the first failure."""
        fed = self.model.entities_of(source.name)
        wanted = list(wanted) or [e for e in (batch.entities or fed) if e in fed]
        done = self.ledger.succeeded(batch.batch_id)
        missing = [e for e in wanted if e not in done]
        now = values.utcnow()
        if missing:
            failure = self._last_failure(batch.batch_id, missing[0])
            batch.status = PARTLY
            batch.message = f"{missing[0]}: {failure}" if failure else f"{missing[0]} not loaded"
            self.ledger.update(batch.batch_id, status=PARTLY, message=batch.message)
            return batch.status
        with self.engine.begin() as connection:
            self._remove_staged(connection, source, batch)
            batch.status, batch.message, batch.finished_at = LOADED, None, now
            self.ledger.update(batch.batch_id, connection, status=LOADED, message=None,
                               finished_at=now)
        return batch.status

    def _remove_staged(self, connection: sa.Connection, source: m.Source,
                       batch: Batch) -> None:
        """Remove a batch's staged rows (the whole table, at once, when it holds no other)."""
        stage = self.metadata.tables[self.model.stage_table(source.name)]
        others = connection.execute(sa.select(stage.c.dv_batch_id).where(
            stage.c.dv_batch_id != batch.batch_id).limit(1)).first()
        if others is None:
            connection.exec_driver_sql(self.dialect.empty_table(stage.name))
        else:
            connection.execute(stage.delete().where(stage.c.dv_batch_id == batch.batch_id))

    def _check_deletions(self, source: m.Source, batch: Batch, entities: Sequence[str],
                         progress: Progress) -> bool:
        """The mass-delete check of a staged snapshot batch, before any of its entity loads:
        for each satellite it loads, the keys whose current state is not a deletion and how
        many of them the batch lacks (those its load would delete). Where that share is
        more than the source's ``max_deletes``, the batch is refused: ``failed``, its staged
        rows removed, nothing written to the vault; returns False. A satellite with no live
        key has nothing to lose and passes."""
        limit = source.max_deletes
        if source.batch != "snapshot" or limit >= 100:
            return True
        over = []
        with self.engine.connect() as connection:
            for entity in entities:
                if not kind_of(self.model, entity).keeps_history:
                    continue
                (check,) = self.renderer.snapshot_deletions(source, entity).statements()
                live, lacking = check.execute(connection, {"batch_id": batch.batch_id}).one()
                live, lacking = int(live or 0), int(lacking or 0)
                if live and Decimal(lacking) * 100 > Decimal(live) * limit:
                    share = (Decimal(lacking) * 100 / Decimal(live)).quantize(Decimal("0.01"))
                    shown = _percent(share) if share > limit else f"more than {_percent(limit)}"
                    over.append(f"{lacking:,} of {live:,} keys ({shown}) of {entity}")
        if not over:
            return True
        message = (f"{REFUSED}would delete {' and '.join(over)}; the limit is "
                   f"{_percent(limit)}; load it again with --allow-mass-delete to accept")
        self._refuse(source, batch, message)
        progress("refused", batch=batch)
        return False

    def _check_batch(self, source: m.Source, result: LoadResult, progress: Progress) -> bool:
        """The source's batch checks on a staged batch, before any of its entity loads
        (SEMANTICS.md section 11), their outcomes added to ``result``. Where one of severity
        stop failed, the batch is refused: ``failed``, its staged rows removed, nothing
        written to the vault; returns False."""
        if not source.batch_checks:
            return True
        batch = result.batch
        outcomes = self.checks.run_batch_checks(source, batch)
        result.checks += outcomes
        progress("checked", batch=batch, outcomes=outcomes)
        stopped = [o for o in outcomes if o.stops]
        if not stopped:
            return True
        self._refuse(source, batch, f"{REFUSED}" + "; ".join(
            f"check {o.check.name} failed: {o.message}" for o in stopped))
        progress("refused", batch=batch)
        return False

    def _refuse(self, source: m.Source, batch: Batch, message: str) -> None:
        """Mark a staged batch failed with ``message``, its staged rows removed, in one
        transaction."""
        now = values.utcnow()
        with self.engine.begin() as connection:
            self._remove_staged(connection, source, batch)
            batch.status, batch.message, batch.finished_at = FAILED, message, now
            self.ledger.update(batch.batch_id, connection, status=FAILED, message=message,
                               finished_at=now)

    def _check_staged_rows(self, source: m.Source, batch: Batch) -> None:
        """Refuse to load a batch whose staged rows are not all there (a migration made its
        staging table again): its loads would read too few rows, and a snapshot would
        delete every key it lacks."""
        stage = self.metadata.tables[self.model.stage_table(source.name)]
        with self.engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(stage).where(
                stage.c.dv_batch_id == batch.batch_id)).scalar()
        if count == (batch.rows_staged or 0):
            return
        batch.status, batch.finished_at = FAILED, values.utcnow()
        batch.message = (f"its staged rows are gone ({count:,} of {batch.rows_staged or 0:,} "
                         "left: a migration made the staging table again); nothing more of it "
                         "is loaded")
        self.ledger.update(batch.batch_id, status=FAILED, message=batch.message,
                           finished_at=batch.finished_at)
        raise DatavaultError(f"batch {batch.batch_id} of {source.name} cannot be finished: "
                             f"{batch.message}; load its input again as a new batch")

    def _last_failure(self, batch_id: int, entity: str) -> str | None:
        audit = self.metadata.tables[schema.AUDIT_TABLE]
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(audit.c.message).where(audit.c.batch_id == batch_id,
                                                 audit.c.entity == entity)
                .order_by(audit.c.started_at.desc()).limit(1)).scalar()

    # ---- checks -------------------------------------------------------------------------
    def _batch(self, batch_id: int) -> Batch:
        batch = self.ledger.get(batch_id)
        if batch is None:
            raise DatavaultError(f"there is no batch {batch_id}; `datavault batches` lists them")
        return batch

    def _source(self, name: str) -> m.Source:
        if name not in self.model.sources:
            raise DatavaultError(
                f"unknown source {name!r}; "
                + (did_you_mean(name, self.model.sources) or "see models/sources/")
            )
        return self.model.sources[name]

    def _entities(self, source: m.Source, only: Sequence[str]) -> list[str]:
        """The entities a load of ``source`` loads (``only`` these), each checked: one the
        engine cannot load is refused by name before anything is staged."""
        fed = self.model.entities_of(source.name)
        for name in only:
            if name not in fed:
                hint = did_you_mean(name, fed)
                raise DatavaultError(
                    f"--only {name}: source {source.name} does not feed {name!r}"
                    + (f"; {hint}" if hint else f"; it feeds {', '.join(fed)}")
                )
        chosen = [e for e in fed if not only or e in only]
        self.dialect.check_needs(f"load {source.name}", engine_needs(self.model, chosen))
        return chosen

    @staticmethod
    def _check_applied_at(source: m.Source, applied_at: dt.datetime | None) -> None:
        if applied_at is not None and source.applied_at:
            raise DatavaultError(
                f"source {source.name} takes its applied time from column {source.applied_at}; "
                "--applied-at is for sources without one"
            )


def _percent(value: Decimal) -> str:
    """A percentage without trailing zeros: ``75%``, ``33.33%``, ``100%``."""
    return f"{value.normalize():f}%"
