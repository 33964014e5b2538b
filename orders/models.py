"""Orders received from SalesAPI and how each got to its current status."""

from django.conf import settings
from django.db import models

from phpservice.fields import ExactCharField


class OrderStatus(models.TextChoices):
    """An order's status: the code we store and the label users see."""

    PROCESSING = "processing", "обрабатывается"
    INVOICED = "invoiced", "сформирован"
    SENT = "sent", "отправлен"
    ERROR = "error", "ошибка"


# Statuses in which the pipeline still has work to do on an order.
WORKING_STATUSES = (OrderStatus.PROCESSING, OrderStatus.INVOICED)


class Order(models.Model):
    """One SalesAPI order, the unit of work of the pipeline.

    The SalesAPI fields are kept as validated values beside the payload exactly
    as received. An order that failed validation keeps whatever fields were
    valid, and rests in ``error`` with a message naming the field at fault.
    """

    order_id = ExactCharField(max_length=64, unique=True)
    product_id = models.CharField(max_length=64, blank=True)
    product_name = models.CharField(max_length=255, blank=True)
    product_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    quantity = models.PositiveIntegerField(null=True, blank=True)
    customer_id = ExactCharField(max_length=64, blank=True, db_index=True)
    customer_name = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    customer_phone = models.CharField(max_length=64, blank=True)

    payload = models.JSONField(help_text="The SalesAPI order exactly as received.")
    payload_sha256 = models.CharField(max_length=64)

    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PROCESSING
    )
    message = models.TextField(blank=True)
    error_code = models.CharField(
        max_length=32, blank=True, help_text="The upstream's own error code, if any."
    )

    invoice_id = ExactCharField(max_length=128, blank=True, db_index=True)
    invoice = models.JSONField(
        null=True, blank=True, help_text="The invoice data set as BillAPI answered it."
    )
    filing_round = models.PositiveSmallIntegerField(
        default=0,
        help_text="Raised when staff replay a filing CustomAPI rejected; part of "
        "the filing's Idempotency-Key.",
    )

    # Pipeline bookkeeping: when the order is next due, how many attempts the
    # current step has had, and which worker holds it until when.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="order_due_idx"),
            models.Index(fields=["status", "updated_at"], name="order_status_upd_idx"),
            # The back office lists the newest orders first.
            models.Index(fields=["created_at"], name="order_created_idx"),
        ]
        permissions = [
            ("view_any_order", "Can see the status of any order"),
            ("replay_order", "Can replay an order that failed"),
            ("notify_customer", "Can notify an order's customer"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.get_status_display()})"

    @property
    def amount(self):
        """Return price × quantity, or None when either is unknown."""
        if self.product_price is None or self.quantity is None:
            return None
        return self.product_price * self.quantity


class OrderStatusChange(models.Model):
    """One transition in an order's history, written with the change itself."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(
        max_length=16, choices=OrderStatus.choices, blank=True
    )
    to_status = models.CharField(max_length=16, choices=OrderStatus.choices)
    message = models.TextField(blank=True)
    actor = models.CharField(
        max_length=150, help_text="Who or what made the change: a job or a user."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The dashboard: orders that reached a status in the last hours.
            models.Index(
                fields=["to_status", "created_at"], name="status_change_to_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


class OrderPayloadConflict(models.Model):
    """A later SalesAPI delivery of a known order id with different data.

    The first version stays authoritative; each distinct later version is kept
    once here so that staff can see and settle it.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="conflicts")
    payload = models.JSONField()
    payload_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "payload_sha256"], name="conflict_once_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"Conflicting delivery of order {self.order_id}"


class RejectedSalesRecord(models.Model):
    """A SalesAPI record that could not be kept as an order (no usable id)."""

    payload = models.JSONField(null=True, help_text="As received (null for null).")
    payload_sha256 = models.CharField(max_length=64, unique=True)
    reason = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.reason


class CustomerAccount(models.Model):
    """Ties an API user to the one SalesAPI customer whose orders it may see."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer"
    )
    customer_id = ExactCharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"{self.user} → customer {self.customer_id}"
