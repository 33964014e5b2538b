"""A support agent's day, in headless Chromium: find, understand, replay.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them); without them the test fails rather than skips. Screenshots of the order
page, the list and the dashboard are kept in ``artifacts/``.
"""

import base64
import io
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from django.core.management import call_command
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderStatusChange
from tests.admin.conftest import STAFF_PASSWORD, SUPPORT_PERMISSIONS, staff_member
from tests.factories import make_order, sales_record

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WIDTH = 1400
WAIT_SECONDS = 20

REJECTION = {"code": -1, "message": "Неверный формат данных"}


@pytest.fixture
def browser(tmp_path):
    """Return a headless Chromium with a profile of its own, driven by selenium."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: apt-get install -y chromium "
            "chromium-driver"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument(f"--window-size={WIDTH},1000")
    service = Service(
        executable_path=str(CHROMEDRIVER),
        log_output=str(tmp_path / "chromedriver.log"),
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save the whole page, not only the window, as ``artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            },
        },
    )
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def yesterdays_traffic() -> None:
    """Give the dashboard's chart the last day of an ordinary shop."""
    now = timezone.now()
    rejection = "Не указан ИНН продавца"
    for hours_ago in range(1, 24):
        for number in range(1 + (hours_ago * 7) % 5):
            failed = number == 3
            status = OrderStatus.ERROR if failed else OrderStatus.SENT
            order = make_order(status=status, message=rejection if failed else "")
            when = now - timedelta(hours=hours_ago, minutes=number * 9)
            steps = ["processing", "invoiced", status]
            for before, after in zip(["", *steps], steps, strict=False):
                change = OrderStatusChange.objects.create(
                    order=order,
                    from_status=before,
                    to_status=after,
                    actor="pipeline",
                    message=rejection if after == "error" else "",
                )
                OrderStatusChange.objects.filter(pk=change.pk).update(created_at=when)


def run_pipeline() -> None:
    call_command("run_pipeline", "--once", "--max-wait", "30", stdout=io.StringIO())


def test_support_finds_a_rejected_order_replays_it_and_sees_it_sent(
    live_server, sandbox, browser
):
    records = [sales_record(customer_name=name) for name in ("Ольга Смирнова",) * 4]
    rejected = records[0]["order_id"]
    sandbox.load_scenario(
        {"orders": records, "faults": {rejected: {"custom": REJECTION}}}
    )
    run_pipeline()
    yesterdays_traffic()
    assert Order.objects.get(order_id=rejected).status == OrderStatus.ERROR
    staff_member("alice", *SUPPORT_PERMISSIONS)
    wait = WebDriverWait(browser, WAIT_SECONDS)

    # Log in as staff.
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.ID, "id_username").send_keys("alice")
    browser.find_element(By.ID, "id_password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(
        expected_conditions.presence_of_element_located((By.ID, "order-dashboard"))
    )

    # Search the order CustomAPI rejected, and open it.
    browser.get(f"{live_server.url}/admin/orders/order/")
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys(rejected)
    search.submit()
    wait.until(
        expected_conditions.presence_of_element_located((By.LINK_TEXT, rejected))
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "ошибка" in rows[0].text
    browser.get(f"{live_server.url}/admin/orders/order/?status__exact=error")
    screenshot(browser, "admin-order-list")
    browser.back()
    browser.find_element(By.LINK_TEXT, rejected).click()

    # CustomAPI's own words are on the page: the message and its answer.
    wait.until(expected_conditions.presence_of_element_located((By.ID, "order-replay")))
    message = browser.find_element(By.CSS_SELECTOR, ".field-message .readonly").text
    assert message == "Неверный формат данных"
    answer = browser.find_elements(By.CSS_SELECTOR, ".order-exchange-response")[-1]
    assert "message: 'Неверный формат данных'" in answer.text
    screenshot(browser, "admin-order-rejected")

    # CustomAPI accepts it now: replay it.
    sandbox.load_scenario({"orders": records})
    browser.find_element(By.ID, "order-replay").click()
    wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, ".messagelist")
        )
    )

    status = browser.find_element(By.CSS_SELECTOR, ".field-status_label .order-status")
    assert status.text == "отправлен"
    assert (
        "Replayed from CustomAPI: отправлен."
        in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    )
    assert "staff:alice" in browser.find_element(By.ID, "order-timeline").text
    assert not browser.find_elements(By.ID, "order-replay")
    screenshot(browser, "admin-order-page")

    browser.get(f"{live_server.url}/admin/")
    wait.until(
        expected_conditions.presence_of_element_located((By.ID, "order-dashboard"))
    )
    assert browser.find_element(By.CSS_SELECTOR, ".order-chart svg")
    screenshot(browser, "admin-dashboard")
