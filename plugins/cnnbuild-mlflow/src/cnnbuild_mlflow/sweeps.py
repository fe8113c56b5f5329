"""A sweep as one MLflow parent run, its trials as child runs (tag ``mlflow.parentRunId``).

The first trial to start creates the parent; later trials, in any worker process, find it by its
tags. Workers on one machine take a file lock in the sweep folder while they look, so they make
one parent between them; should workers elsewhere still make a second, every trial picks the
oldest, so the children stay together.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

from cnnbuild_mlflow import naming

LOCK_FILE = "mlflow-parent.lock"
_parents: dict[tuple[str, str, str], str] = {}


def parent_run(client: Any, experiment_id: str, sweep: Path, study: str | None) -> str:
    """The run id of the sweep's parent run, created (and marked finished) if there is none yet."""
    cache_key = (client.tracking_uri, experiment_id, str(sweep))
    if cache_key in _parents:
        return _parents[cache_key]
    query = f"tags.`cnnbuild.kind` = 'sweep' and tags.`cnnbuild.sweep` = '{sweep}'"
    with open(sweep / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = client.search_runs([experiment_id], filter_string=query, order_by=["attributes.start_time ASC"], max_results=1)
        if found:
            run_id = found[0].info.run_id
        else:
            run_id = _create_parent(client, experiment_id, sweep, study)
    _parents[cache_key] = run_id
    return run_id


def _create_parent(client: Any, experiment_id: str, sweep: Path, study: str | None) -> str:
    from mlflow.entities import Param

    from cnnbuild.runs.sweep_record import SweepRecord

    definition = SweepRecord(sweep).definition
    settings = definition["sweep"]
    tags = {"cnnbuild.kind": "sweep", "cnnbuild.sweep": str(sweep), "cnnbuild.study": str(study or definition.get("study"))}
    run = client.create_run(experiment_id, run_name=f"sweep-{study or sweep.name}", tags=tags)
    params = {"sweep.metric": settings.get("metric"), "sweep.direction": settings.get("direction"), "sweep.sampler": settings.get("sampler"), "sweep.pruner": json.dumps(settings.get("pruner"))}
    params.update({naming.key(f"sweep.space.{name}"): naming.value(dimension) for name, dimension in settings.get("space", {}).items()})
    client.log_batch(run.info.run_id, params=[Param(name, str(item)) for name, item in params.items()][:100])
    # the parent holds no training of its own: it is finished at once and gathers its children as they come
    client.set_terminated(run.info.run_id, status="FINISHED")
    return run.info.run_id
