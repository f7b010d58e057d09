"""fit_for sizes a replica as it is deployed: pipeline stages spread over a LeaderWorkerSet group's pods."""

from datetime import date

import pytest
from test_detector_cases import _catalogs, build_workload

from inferops_pipeline.detectors.context import DetectorContext, fit_for
from inferops_pipeline.settings import Thresholds


@pytest.mark.parametrize(("pods_per_replica", "weights_ratio"), [(1, 1.0), (2, 0.5)])
def test_pipeline_stages_across_pods_split_the_weights(pods_per_replica: int, weights_ratio: float) -> None:
    ctx = DetectorContext(
        assessment_date=date(2026, 11, 30), workloads=[], nodes=[], catalogs=_catalogs(), thresholds=Thresholds()
    )
    single = build_workload({})
    grouped = build_workload({"pods_per_replica": pods_per_replica, "pipeline_parallel": pods_per_replica})
    one = fit_for(ctx, single, gpu_model=single.gpu_model, gpu_count=single.gpus_per_replica)
    spread = fit_for(ctx, grouped, gpu_model=grouped.gpu_model, gpu_count=grouped.gpus_per_replica)
    assert one is not None and spread is not None
    assert spread.weights_gib_per_gpu == pytest.approx(one.weights_gib_per_gpu * weights_ratio)
