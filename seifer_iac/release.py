"""`build_release`: spec -> profile -> plan -> partition blobs -> artifacts -> manifests, in one place.

`seifer render`, the Pulumi program and the local runner all call this one function, so what runs locally
is exactly what Kubernetes gets. The weight budget is checked on the plan's parameter bytes before the
model is split (the slow part), so an over-budget stage fails at plan time with the option to change.
TensorFlow is imported only inside the model package's splitting functions, and only when needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seifer_iac.artifacts import ArtifactError, PartitionArtifact, build_artifacts, check_weight_budget
from seifer_iac.manifests import render_manifests
from seifer_iac.model.errors import ModelError
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.plan import Plan
from seifer_iac.profile import Profile
from seifer_iac.spec import Spec, SpecError, load_spec

Progress = Callable[[str], None]

# What build_release raises for a problem the user can fix: the CLI prints str(error) and exits 2.
RELEASE_ERRORS = (SpecError, ModelError, PlanningError, ArtifactError)


@dataclass(frozen=True)
class Release:
    """Everything one deployment is made of; `manifests` is what Kubernetes (or the local runner) gets."""

    spec: Spec
    profile: Profile
    plan: Plan
    artifacts: tuple[PartitionArtifact, ...]
    manifests: tuple[dict[str, Any], ...]


def _quiet(_: str) -> None:
    return None


def plan_for_spec(spec: Spec, profile: Profile, without: Iterable[str] = ()) -> Plan:
    """The planner's plan for this spec, honouring the plan lock beside the spec (and its stability rule)."""
    from seifer_iac.planner.spec_plan import plan_spec

    return plan_spec(spec, profile, without=tuple(without))


def model_of(spec: Spec) -> Any:
    """The Keras model whose partitions the stages run (a profile alone carries no weights)."""
    import keras

    # keras names unnamed layers with per-process counters (global_average_pooling2d_1 on a second build):
    # start from a fresh naming state so the blobs are the same bytes in every process, every time.
    keras.backend.clear_session()
    source = spec.model
    if source.application:
        from seifer_iac.model.load import build_application

        return build_application(source.application, source.input_shape, source.seed)
    if source.file:
        from seifer_iac.model.load import read_model_file

        return read_model_file(source.file)
    raise ModelError(
        "model.profile is enough to plan but not to deploy: the stages need weights; "
        "set model.application or model.file"
    )


def partition_blobs_for(spec: Spec, plan: Plan) -> list[bytes]:
    """Serialised partitions for the plan's block ranges in the backend's format (imports TensorFlow)."""
    from seifer_iac.model.split import partition_blobs

    ranges = [(stage.first_block, stage.last_block) for stage in plan.stages]
    parts = partition_blobs(model_of(spec), ranges, spec.runtime.backend, spec.runtime.precision)
    return [part.blob for part in parts]


def build_release(
    spec: Spec | str | Path, *, without: Iterable[str] = (), progress: Progress = _quiet
) -> Release:
    """The release of a spec (or a spec file): raises one of RELEASE_ERRORS with a one-line fix."""
    from seifer_iac.model.cache import profile_for_source

    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    profile = profile_for_source(spec.model, progress)
    plan = plan_for_spec(spec, profile, without)
    check_weight_budget(spec, plan)
    progress(f"splitting {spec.model.label} into {len(plan.stages)} partitions")
    artifacts = build_artifacts(spec, plan, partition_blobs_for(spec, plan))
    manifests = tuple(render_manifests(spec, plan, artifacts, profile))
    return Release(spec=spec, profile=profile, plan=plan, artifacts=artifacts, manifests=manifests)


def placement_rows(plan: Plan) -> list[dict[str, Any]]:
    """The placement table that `pulumi stack output placement` and `seifer render` show."""
    return [
        {
            "stage": s.index,
            "node": s.node,
            "backups": list(s.backups),
            "blocks": f"{s.first_block}-{s.last_block}",
            "layers": f"{s.first_layer} .. {s.last_layer}",
            "memoryMiB": round(s.memory_bytes / 2**20, 1),
            "computeSeconds": s.compute_s,
            "linkOutSeconds": s.link_out_s,
        }
        for s in plan.stages
    ]


def dispatcher_endpoint(spec: Spec) -> str:
    """The in-cluster URL of the dispatcher's inference API."""
    from seifer_iac.manifests import dispatcher_name, service_host

    return f"http://{service_host(spec, dispatcher_name(spec))}:{spec.dispatcher.port}"
