from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from notifications.api import NotifyView, twilio_status_callback
from orders.api import OrderStatusView
from phpservice.auth import LoginView, RefreshView, RevokeView
from phpservice.health import health, ready
from phpservice.metrics_endpoint import metrics
from phpservice.schema import SchemaView, SwaggerView

urlpatterns = [
    path("auth/token", LoginView.as_view(), name="token"),
    path("auth/token/refresh", RefreshView.as_view(), name="token-refresh"),
    path("auth/token/revoke", RevokeView.as_view(), name="token-revoke"),
    path("status", OrderStatusView.as_view(), name="order-status"),
    path("notify", NotifyView.as_view(), name="notify"),
    # Mailgun: /webhooks/anymail/mailgun/tracking/
    path("webhooks/anymail/", include("anymail.urls")),
    path(
        "webhooks/twilio/status",
        twilio_status_callback,
        name="twilio-status-callback",
    ),
    path("health", health, name="health"),
    path("ready", ready, name="ready"),
    path("metrics", metrics, name="metrics"),
    path("api/schema", SchemaView.as_view(), name="api-schema"),
    path("api/docs", SwaggerView.as_view(), name="api-docs"),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
]

handler400 = "phpservice.api.bad_request"
handler403 = "phpservice.api.forbidden"
handler404 = "phpservice.api.not_found"
handler500 = "phpservice.api.server_error"
