"""The back office's actions on orders: replay and notify, single and bulk.

Each needs its own permission (``orders.replay_order``,
``orders.notify_customer``): staff without it see neither the buttons nor
the bulk action, and are refused if they post anyway. Each is written to
the order's history as ``staff:<username>`` and to the admin's log.
"""

from django.contrib import messages
from django.contrib.admin import action
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from integrations.pipeline import STEP_LABELS
from notifications.models import Channel
from notifications.services import NotifyRefused, notification_send
from orders.models import Order, OrderStatus
from orders.replay import (
    ReplayRefused,
    order_replay,
    orders_replay,
    replay_step,
    staff_actor,
)

# A bulk replay names at most this many refused orders, one message each.
REFUSALS_SHOWN = 5


class OrderActionsMixin:
    """Replay and notify views and the bulk replay, for the orders' ModelAdmin."""

    actions = ["replay_selected"]

    def has_replay_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.replay_order")

    def has_notify_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.notify_customer")

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(require_POST(self.replay_view)),
                name="orders_order_replay",
            ),
            path(
                "<path:object_id>/notify/<str:channel>/",
                self.admin_site.admin_view(require_POST(self.notify_view)),
                name="orders_order_notify",
            ),
        ]
        return own + super().get_urls()

    def _acted_on(self, request, object_id, permission) -> Order:
        if not permission(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(f"No order with key {object_id!r}.")
        return order

    def _back_to(self, order: Order) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:orders_order_change", args=[order.pk])
        )

    def replay_view(self, request, object_id):
        """Replay one failed order now and show how it ended."""
        order = self._acted_on(request, object_id, self.has_replay_permission)
        step = STEP_LABELS[replay_step(order)]
        try:
            replayed = order_replay(order=order, user=request.user)
        except ReplayRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return self._back_to(order)

        self.log_change(request, replayed, f"Replayed from {step}")
        label = replayed.get_status_display()
        if replayed.status == OrderStatus.SENT:
            level, text = messages.SUCCESS, f"Replayed from {step}: {label}."
        elif replayed.status == OrderStatus.ERROR:
            level = messages.WARNING
            text = f"Replayed from {step}, and it failed again: {replayed.message}"
        else:
            level = messages.INFO
            text = (
                f"Replayed from {step}; it is {label} and the workers carry on: "
                f"{replayed.message}"
            )
        self.message_user(request, text, level)
        return self._back_to(replayed)

    def notify_view(self, request, object_id, channel):
        """Send the customer the order's status by email or SMS."""
        if channel not in Channel.values:
            raise Http404(f"No channel {channel!r}.")
        order = self._acted_on(request, object_id, self.has_notify_permission)
        label = Channel(channel).label
        try:
            result = notification_send(
                order=order,
                channel=channel,
                user=request.user,
                actor=staff_actor(request.user),
            )
        except NotifyRefused as refused:
            text = f"{label} not sent: {refused.message}"
            self.message_user(request, text, messages.ERROR)
            return self._back_to(order)

        body = result.body
        self.log_change(request, order, f"{label} notification: {body['status']}")
        if body["success"]:
            text = f"{label} sent to {body['recipient']}."
            self.message_user(request, text, messages.SUCCESS)
        else:
            error = body.get("error", {})
            text = f"{label} to {body['recipient']} {body['status']}: " + str(
                error.get("message", "")
            )
            self.message_user(request, text, messages.ERROR)
        return self._back_to(order)

    @action(description="Replay the selected orders in ошибка", permissions=["replay"])
    def replay_selected(self, request, queryset):
        skipped = queryset.exclude(status=OrderStatus.ERROR).count()
        result = orders_replay(orders=queryset, user=request.user)
        if result.replayed:
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=Order.objects.filter(order_id__in=result.replayed),
                action_flag=CHANGE,
                change_message="Replayed",
            )
            self.message_user(
                request,
                f"{len(result.replayed)} orders replayed; the workers take them "
                "up now.",
                messages.SUCCESS,
            )
        reasons = list(result.refused.values())
        for reason in reasons[:REFUSALS_SHOWN]:
            self.message_user(request, reason, messages.ERROR)
        if len(reasons) > REFUSALS_SHOWN:
            self.message_user(
                request,
                f"{len(reasons) - REFUSALS_SHOWN} more orders were refused likewise.",
                messages.ERROR,
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected orders were not in ошибка and were left alone.",
                messages.WARNING,
            )
        if result.left_over:
            self.message_user(
                request,
                f"{result.left_over} more orders in ошибка were selected; run the "
                "action again for them.",
                messages.WARNING,
            )
