"""The least a JWT-protected status endpoint can do: authenticate, one SELECT."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.models import Order


class BaselineStatusView(APIView):
    def get(self, request):
        status = (
            Order.objects.filter(order_id=request.query_params.get("order_id", ""))
            .values_list("status", flat=True)
            .first()
        )
        return Response({"status": status})


urlpatterns = [path("status", BaselineStatusView.as_view())]
