"""What an orchestrator's step does, for any orchestrator: a load of a source from the files
its input names, and a build of a mart, each with a summary for the orchestrator's records.

A source's input is a folder (every file in it) or a glob pattern (``data/orders_*.csv``,
``landing/**/*.parquet``), relative to the project folder unless absolute; ``{source}`` in it
stands for the source's name, so one pattern may serve every source. A load step loads every
matching file in name order, one batch each: a file already loaded is skipped by the ledger,
so a step run again (a retry, the next scheduled run) loads only what is new, and a batch that
a stopped or failed run left unfinished is finished first by the next load of its source. A
batch that is not loaded raises ``StepFailed`` after the batches before it are in, so that the
orchestrator marks the step failed and retries it; later files wait for the next run, keeping
the batches of a source in the order of their files.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from datavault import api
from datavault.diagnostics import DatavaultError
from datavault.plan import Plan

#: the input of every source unless told otherwise: the example project's layout
DEFAULT_INPUT = "data/{source}_*"
Inputs = Mapping[str, "str | Path"] | str | Path
Log = Callable[[str], None]


def _failure(source: str, path: Path, result: Any) -> str:
    """Why a load step failed, and what makes a run of it go on."""
    what = (f"batch {result.batch_id} of {source} ({path}) is {result.status}: "
            f"{result.batch.message or 'see datavault batches'}")
    if result.stopped_by:
        return (f"{what}; a retry refuses the same file again: correct the file (or the "
                f"check in models/sources/{source}.yml), then run again "
                f"(datavault checks --batch {result.batch_id} shows every check)")
    if result.status == "failed":
        return (f"{what}; a retry loads the same file again: correct it (or, for a mass "
                "deletion, load it with datavault load --allow-mass-delete), then run again")
    return (f"{what}; a retry finishes it (or: datavault load --resume {result.batch_id})")


class StepFailed(DatavaultError):
    """A step whose batch was not loaded (failed, or partly loaded): the orchestrator's
    retry loads it again, finishing what the loader left first."""


def source_input(plan: Plan, inputs: Inputs, source: str) -> str:
    """The folder or pattern that names ``source``'s files."""
    if isinstance(inputs, (str, Path)):
        return str(inputs).replace("{source}", source)
    if source not in inputs:
        missing = sorted(s.target for s in plan.loads if s.target not in inputs)
        raise DatavaultError(
            f"no input for source{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "give each source a folder or file pattern, e.g. inputs={"
            + ", ".join(f"{s!r}: 'landing/{s}/*.csv'" for s in missing[:2]) + "}")
    return str(inputs[source]).replace("{source}", source)


def check_inputs(plan: Plan, inputs: Inputs) -> dict[str, str]:
    """Every source's folder or pattern, by source; an error naming the sources without one,
    or sources the model does not have."""
    if not isinstance(inputs, (str, Path)):
        unknown = sorted(set(inputs) - {s.target for s in plan.loads})
        if unknown:
            raise DatavaultError(f"inputs for unknown source{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(unknown)}; the sources are "
                                 + ", ".join(s.target for s in plan.loads))
    return {s.target: source_input(plan, inputs, s.target) for s in plan.loads}


def input_files(project_dir: Path | str, pattern: str) -> list[Path]:
    """The files a folder or glob pattern names, relative to ``project_dir``, in name order
    (hidden files and folders left out)."""
    root = Path(project_dir)
    where = Path(pattern) if Path(pattern).is_absolute() else root / pattern
    if where.is_dir():
        found = [p for p in where.iterdir() if p.is_file() and not p.name.startswith(".")]
    else:
        found = [Path(p) for p in glob.glob(str(where), recursive=True) if Path(p).is_file()]
    return sorted(found, key=lambda p: str(p))


def load_source(project_dir: Path | str, source: str, pattern: str, *,
                url: str | None = None, profile: str | None = None,
                log: Log = lambda _text: None) -> dict:
    """Load every file ``pattern`` names into ``source``, in name order; the summary of what
    was done. Raises ``StepFailed`` at the first batch not loaded."""
    files = input_files(project_dir, pattern)
    summary: dict = {"source": source, "input": pattern, "files": len(files), "loaded": 0,
                     "skipped": 0, "batches": [], "resumed": [], "rows_read": 0,
                     "rows_staged": 0, "rows_quarantined": 0, "rows_inserted": 0}
    if not files:
        log(f"no file matches {pattern} for source {source}: nothing to load")
        return summary
    with api.connect(project_dir, url, profile) as vault:
        for path in files:
            result = vault.load(source, str(path))
            for earlier in result.resumed:
                summary["resumed"].append(earlier.batch_id)
                log(f"batch {earlier.batch_id} of {source}, left unfinished by an earlier run: "
                    f"{earlier.status}")
            if result.skipped:
                summary["skipped"] += 1
                log(f"{path.name}: skipped, identical to batch {result.batch_id}")
                continue
            summary["batches"].append(result.batch_id)
            summary["rows_read"] += result.rows_read
            summary["rows_staged"] += result.rows_staged
            summary["rows_quarantined"] += result.rows_quarantined + sum(
                e.rows_quarantined for e in result.entities)
            summary["rows_inserted"] += sum(e.rows_inserted for e in result.entities)
            loaded = ", ".join(f"{e.entity} +{e.rows_inserted}" for e in result.entities)
            log(f"{path.name}: batch {result.batch_id} {result.status}, "
                f"{result.rows_read} rows read, {result.rows_quarantined} quarantined at "
                f"entry" + (f"; {loaded}" if loaded else "")
                + (f"; {result.batch.message}" if result.batch.message else ""))
            if not result.ok:
                raise StepFailed(_failure(source, path, result))
            summary["loaded"] += 1
    return summary


def build_mart(project_dir: Path | str, mart: str, *, url: str | None = None,
               profile: str | None = None, log: Log = lambda _text: None) -> dict:
    """Build or refresh one mart; what the build did (``marts build --format json``'s
    object, times as text)."""
    built, _dropped = api.build_marts(project_dir, [mart], url=url, profile=profile)
    result = asdict(built[0])
    if result["since"] is not None:
        result["since"] = result["since"].isoformat(sep=" ", timespec="microseconds")
    result["seconds"] = round(result["seconds"], 3)
    log(f"mart {mart}: {result['rows_inserted']} rows written, {result['rows_deleted']} "
        f"deleted, batches up to {result['upto_batch']}"
        + (f"; batch {result['held_by']} is still under way: its rows wait for the next "
           "build" if result["held_by"] is not None else ""))
    return result
