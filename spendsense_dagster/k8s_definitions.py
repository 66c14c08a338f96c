"""The Kubernetes code location (deploy/, docs/scaling.md): the same Definitions, each step in its own pod.

`dagster api grpc -m spendsense_dagster.k8s_definitions` in the image of deploy/Dockerfile. The
k8s_job_executor starts one Kubernetes Job per step, so the recommendation shards' model calls run in
parallel pods; the "duckdb" pool (one slot, set on the instance) still lets one step at a time write
the warehouse. Step outputs (the shard plan, the shard file names) go through a filesystem IO manager
on the volume that holds the warehouse, which every step pod mounts. Needs the `k8s` extra.
"""

from __future__ import annotations

import dagster as dg
from dagster_k8s import k8s_job_executor

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.lib.core.settings import Settings

# Step pods started at once by one run; the shards beyond it wait for a free slot.
MAX_CONCURRENT_STEP_PODS = 8


def build_k8s_definitions(settings: Settings) -> dg.Definitions:
    storage = settings.warehouse_path.parent / "dagster_storage"
    return build_definitions(
        settings,
        executor=k8s_job_executor.configured({"max_concurrent": MAX_CONCURRENT_STEP_PODS}),
        extra_resources={"io_manager": dg.FilesystemIOManager(base_dir=str(storage))},
    )


defs = build_k8s_definitions(Settings.from_env())
