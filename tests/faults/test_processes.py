"""The fault-test fixtures themselves: another process sees the test database."""

from orders.models import Order
from tests.factories import make_order


def test_a_started_process_works_on_the_test_database(processes):
    make_order(order_id="seen-by-another-process")
    child = processes.manage(
        "shell",
        "-c",
        "from orders.models import Order; "
        "print(list(Order.objects.values_list('order_id', flat=True)))",
        name="shell",
    )
    assert child.wait(timeout=60) == 0, processes.output("shell")
    assert "seen-by-another-process" in processes.output("shell")
    assert Order.objects.count() == 1
