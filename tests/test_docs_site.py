"""`datavault docs` in a real headless Chromium, driven by Selenium through Debian's
chromedriver (the same build as the browser, so no driver or browser is downloaded): every
page renders without console errors, every link of every page resolves, the diagram is drawn,
and a mart column's lineage is shown back to its source column. Without Chromium these tests
skip, except under CI (where `make test` installs it)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest
from click.testing import CliRunner

from datavault import api, cli, demo
from datavault.docs import GRAPHVIZ_HINT
from tests.conftest import IN_CI, ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install chromium chromium-driver"


def _missing() -> str | None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return f"Chromium or its driver is not installed ({INSTALL})"
    if shutil.which("dot") is None:
        return "Graphviz's dot is not installed (apt-get install graphviz)"
    try:
        import PIL  # noqa: F401
        import selenium  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator:
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail("CI must run the browser tests of the docs site; " + missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example project loaded by the demo (batches in its ledger), and its site."""
    folder = tmp_path_factory.mktemp("example")
    demo.run_demo(folder / "vault", lambda *_: None, lambda *_: None)
    site = api.docs(folder / "vault", folder / "site")
    assert site.diagram and not site.notes
    return folder / "site"


@pytest.fixture(scope="module")
def tpch_site(tmp_path_factory) -> Path:
    """The TPC-H model of bench/tpch, with no database: its pages, without batches."""
    folder = tmp_path_factory.mktemp("tpch")
    shutil.copytree(ROOT / "bench" / "tpch", folder / "tpch")
    site = api.docs(folder / "tpch", folder / "site")
    assert site.diagram
    assert [n for n in site.notes if n.startswith("no batches shown")]
    return folder / "site"


_LINKS = """return Array.from(document.querySelectorAll('a')).map(a =>
    a.getAttribute('href') || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href'));"""


def _crawl(driver, site: Path) -> set[str]:
    """Every page reachable from the index, each checked for console errors, and every link
    checked to reach a page of the site and, with a fragment, an element of that page."""
    start = (site / "index.html").as_uri()
    todo, seen = [start], {start}
    wanted: dict[str, set[str]] = {}
    ids: dict[str, set[str]] = {}
    while todo:
        page = todo.pop()
        driver.get(page)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{page}: {errors}"
        assert driver.title.endswith("datavault docs"), page
        ids[page] = set(driver.execute_script(
            "return Array.from(document.querySelectorAll('[id]')).map(e => e.id);"))
        hrefs = driver.execute_script(_LINKS)
        assert hrefs, f"{page} has no links"
        for href in hrefs:
            assert href, f"{page} has a link without a target"
            target, fragment = urldefrag(urljoin(page, href))
            path = Path(unquote(urlparse(target).path))
            assert urlparse(target).scheme == "file" and path.parent == site, (page, href)
            assert path.is_file(), f"{page} links to {href}, which is not there"
            if fragment:
                wanted.setdefault(target, set()).add(fragment)
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for target, fragments in wanted.items():
        assert fragments <= ids[target], (target, sorted(fragments - ids[target]))
    return {Path(unquote(urlparse(p).path)).name for p in seen}


@pytest.mark.parametrize("which", ["example", "tpch"])
def test_every_page_renders_and_every_link_resolves(browser, request, which: str) -> None:
    site = request.getfixturevalue(f"{which}_site")
    pages = _crawl(browser, site)
    assert pages == {p.name for p in site.glob("*.html")}  # each page is linked to


@pytest.mark.parametrize("which", ["example", "tpch"])
def test_the_diagram_is_drawn(browser, request, which: str) -> None:
    from PIL import Image
    from selenium.webdriver.common.by import By

    site = request.getfixturevalue(f"{which}_site")
    browser.get((site / "index.html").as_uri())
    diagram = browser.find_element(By.CSS_SELECTOR, "#er-diagram svg")
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#er-diagram svg g.node'))"
        ".map(n => Array.from(n.querySelectorAll('text')).map(t => t.textContent).join(' '));")
    assert len(labels) > 5
    assert "customer (hub)" in labels
    size = diagram.size
    assert size["width"] > 200 and size["height"] > 100
    image = Image.open(io.BytesIO(diagram.screenshot_as_png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 10, "the diagram's screenshot is all one colour"


def test_a_mart_columns_lineage_is_shown_back_to_its_source_column(browser,
                                                                    example_site) -> None:
    from selenium.webdriver.common.by import By

    browser.get((example_site / "mart-customers.html").as_uri())
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-column="customers_current.name"]')
    assert row.find_element(By.CSS_SELECTOR, "td.derivation").text == "copied"
    assert row.find_element(By.CSS_SELECTOR, "td.inputs").text == "sat_customer_details.name"
    chains = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td.lineage .chain")]
    assert chains == ["crm_customers.name → sat_customer_details.name → customers_current.name"]
    # the source column's row, where the chain starts, lists the satellite column it feeds
    first = row.find_element(By.CSS_SELECTOR, "td.lineage .chain a")
    first.click()
    assert browser.current_url.endswith("source-crm_customers.html#col-crm_customers-name")
    source_row = browser.find_element(By.ID, "col-crm_customers-name")
    assert "sat_customer_details.name" in source_row.find_element(By.CSS_SELECTOR,
                                                                  "td.users").text


def test_source_pages_list_recent_batches(browser, example_site) -> None:
    from selenium.webdriver.common.by import By

    browser.get((example_site / "source-crm_customers.html").as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table.batches tbody tr")
    assert len(rows) == 4  # the demo loads four extracts of the CRM's customers
    assert all(" loaded " in f" {r.text} " for r in rows)
    # its one check, declared and run on each of the four batches
    declared = browser.find_elements(By.CSS_SELECTOR, "table.checks tbody tr")
    assert [r.text for r in declared] == [
        "unique_customer_id unique customer_id one row per customer_id warn"]
    runs = browser.find_elements(By.CSS_SELECTOR, "table.quality tbody tr")
    assert len(runs) == 4 and all("unique_customer_id pass" in r.text for r in runs)


def test_source_pages_show_the_checks_that_quarantined_warned_and_stopped(
        browser, example_site) -> None:
    from selenium.webdriver.common.by import By

    browser.get((example_site / "source-shop_orders.html").as_uri())
    stopped = browser.find_elements(By.CSS_SELECTOR, "table.quality tr.status-stop")
    assert len(stopped) == 1 and "freshness" in stopped[0].text
    assert "before its load time; the limit is 3650d" in stopped[0].text
    quarantined = browser.find_elements(By.CSS_SELECTOR, "table.quality tr.status-quarantined")
    assert [r.text.split()[1] for r in quarantined] == ["accepted_values_status"]
    browser.get((example_site / "source-crm_phones.html").as_uri())
    warned = browser.find_elements(By.CSS_SELECTOR, "table.quality tr.status-warn")
    assert len(warned) == 1 and "phone_type: PSI" in warned[0].text


def test_without_a_database_the_site_says_so(tmp_path: Path) -> None:
    """No browser needed: the command writes the model's pages, and says once why there are
    no batches."""
    shutil.copytree(ROOT / "models", tmp_path / "project" / "models")
    shutil.copytree(ROOT / "config", tmp_path / "project" / "config")
    done = CliRunner().invoke(cli.main, ["-p", str(tmp_path / "project"), "docs", "--out",
                                         str(tmp_path / "site")])
    assert done.exit_code == 0, done.output
    assert "wrote 14 pages" in done.stdout
    assert done.stderr.count("note: no batches shown") == 1
    page = (tmp_path / "site" / "source-crm_customers.html").read_text(encoding="utf-8")
    assert 'class="no-database"' in page and "migrate upgrade" in page


def test_without_graphviz_the_site_has_no_diagram_and_says_how_to_get_it(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    site = api.docs(ROOT, tmp_path / "site", url=f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert not site.diagram
    assert f"the entity-relationship diagram was not drawn: {GRAPHVIZ_HINT}" in site.notes
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'id="er-diagram-missing"' in index and "apt-get install graphviz" in index


def test_an_out_folder_that_cannot_be_made_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    done = CliRunner().invoke(cli.main, ["-p", str(ROOT), "--url",
                                         f"sqlite:///{tmp_path / 'none.sqlite'}", "docs",
                                         "--out", str(tmp_path / "file" / "site")])
    assert done.exit_code == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the site into {tmp_path / 'file' / 'site'}: Not a directory "
        f"({tmp_path / 'file' / 'site'})")
