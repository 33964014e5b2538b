"""Run a management command in a process that SIGKILLs itself on cue.

A test-only launcher for the crash tests: the command and everything it calls
are the real ones; only ``BillClient.create_invoice`` is wrapped, so that the
process dies right after BillAPI's answer arrived and before the worker could
save it — the narrowest window a crash can hit.

    python tests/faults/dying_worker.py run_pipeline --once ...

``DIE_AFTER_INVOICE_OF`` names the order whose invoice is the cue.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import execute_from_command_line  # noqa: E402

from integrations.bill import BillClient  # noqa: E402

real_create_invoice = BillClient.create_invoice
doomed_order_id = os.environ["DIE_AFTER_INVOICE_OF"]


def create_invoice_then_die(self, *, order, **kwargs):
    invoice = real_create_invoice(self, order=order, **kwargs)
    if order.order_id == doomed_order_id:
        print(f"dying after the invoice of {order.order_id}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return invoice


BillClient.create_invoice = create_invoice_then_die
execute_from_command_line(["manage.py", *sys.argv[1:]])
