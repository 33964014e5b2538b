from django.contrib import admin
from django.urls import include, path
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenRefreshView,
)

from notifications.api import NotifyView, twilio_status_callback
from orders.api import OrderStatusView
from phpservice.auth import LoginView

urlpatterns = [
    path("auth/token", LoginView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/revoke", TokenBlacklistView.as_view(), name="token-revoke"),
    path("status", OrderStatusView.as_view(), name="order-status"),
    path("notify", NotifyView.as_view(), name="notify"),
    # Mailgun: /webhooks/anymail/mailgun/tracking/
    path("webhooks/anymail/", include("anymail.urls")),
    path(
        "webhooks/twilio/status",
        twilio_status_callback,
        name="twilio-status-callback",
    ),
    path("admin/", admin.site.urls),
]

handler400 = "phpservice.api.bad_request"
handler403 = "phpservice.api.forbidden"
handler404 = "phpservice.api.not_found"
handler500 = "phpservice.api.server_error"
