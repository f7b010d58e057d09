"""Operator-facing wording helpers of the detectors."""

import pytest

from inferops_pipeline.detectors.pending_gpu_workload import took


@pytest.mark.parametrize(("hours", "text"), [(0.4, "24 min"), (7.5, "7.5 h"), (47.9, "47.9 h"), (72, "3 days")])
def test_waits_read_like_an_operator_says_them(hours: float, text: str) -> None:
    assert took(hours) == text
