"""Token endpoints."""

from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView


class LoginView(TokenObtainPairView):
    """Issue tokens for a username and password, a limited number per address."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
