"""The nightly fleet report opens offline in headless Chromium with its totals visible; a screenshot is kept."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
# DESIGN §6: Debian chromium + Playwright from PyPI, never `playwright install`.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
NIGHTS = ("2026-11-29", "2026-11-30")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


@pytest.fixture(scope="module")
def report_file(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """Two nights of the whole graph (so the trend has a previous night); returns the second night's HTML."""
    warehouse = tmp_path_factory.mktemp("report") / "warehouse.duckdb"
    resources = {
        "inferops": InferopsResource(config_path=str(demo_dir / "inferops.yaml"), warehouse_path=str(warehouse))
    }
    result = None
    for night in NIGHTS:
        result = materialize_date(night, resources=resources)[-1].result
    assert result is not None
    return warehouse.parent / "reports" / f"fleet-{NIGHTS[-1]}.html", result


def test_report_asset_writes_html_and_markdown_metadata(
    report_file: tuple[Path, dg.ExecuteInProcessResult],
) -> None:
    html_path, result = report_file
    page = html_path.read_text()
    # Self-contained: no scripts and nothing fetched from anywhere.
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert page.count("<svg") >= 3
    assert html_path.with_suffix(".md").exists()
    metadata = result.asset_materializations_for_node("fleet_report")[0].metadata
    report_md = metadata["report"].value
    assert isinstance(report_md, str)
    assert "## Waste by type" in report_md and "## Coverage gaps" in report_md and "vs 2026-11-29" in report_md
    waste = metadata["monthly_waste_usd"].value
    assert isinstance(waste, float) and waste > 0
    assert f"${waste:,.0f}/month" in report_md


def test_report_renders_in_headless_chromium(
    report_file: tuple[Path, dg.ExecuteInProcessResult], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    html_path, result = report_file
    metadata = result.asset_materializations_for_node("fleet_report")[0].metadata
    waste = float(metadata["monthly_waste_usd"].value)  # type: ignore[arg-type]
    at_risk = float(metadata["monthly_at_risk_usd"].value)  # type: ignore[arg-type]
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_path.as_uri())
            assert page.get_by_test_id("total-waste").inner_text() == f"${waste:,.0f}"
            assert page.get_by_test_id("total-at-risk").inner_text() == f"${at_risk:,.0f}"
            assert page.locator("#total-waste").is_visible() and page.locator("#total-at-risk").is_visible()
            assert page.locator("#trend-chart svg circle").count() == 2 * len(NIGHTS)
            assert page.get_by_role("heading", name="Coverage gaps").is_visible()
            shot = tmp_path / "fleet-report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    # The page itself is the only thing loaded: charts are inline SVG, styles inline.
    assert requests == [html_path.as_uri()]
    assert shot.stat().st_size > 10_000
    # INFEROPS_ARTIFACTS=1 keeps the screenshot in test-artifacts/ at the repo root (CI uploads it); a path, there.
    artifacts = os.environ.get("INFEROPS_ARTIFACTS")
    if artifacts:
        target = REPO / "test-artifacts" if artifacts.lower() in {"1", "true", "yes"} else Path(artifacts)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
