"""The order status API: ``GET /status?order_id=…``."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.models import Order
from orders.selectors import orders_visible_to
from orders.validation import ORDER_ID_RE
from phpservice.schema import error_responses


class StatusQuerySerializer(serializers.Serializer):
    order_id = serializers.RegexField(
        ORDER_ID_RE,
        max_length=64,
        error_messages={
            "invalid": "Use 1-64 letters, digits, '.', '_', ':' or '-'.",
        },
    )


class OrderStatusSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="get_status_display")
    status_code = serializers.CharField(source="status")

    class Meta:
        model = Order
        fields = ["order_id", "status", "status_code", "message", "updated_at"]


class OrderStatusView(APIView):
    """Answer an order's current status, if the caller may see the order."""

    @extend_schema(
        operation_id="order_status",
        summary="An order's current status",
        parameters=[
            OpenApiParameter(
                "order_id",
                {"type": "string", "pattern": ORDER_ID_RE.pattern, "maxLength": 64},
                OpenApiParameter.QUERY,
                required=True,
                description="The SalesAPI order id.",
                examples=[OpenApiExample("An order", value="123456")],
            )
        ],
        responses={200: OrderStatusSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request):
        query = StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        order_id = query.validated_data["order_id"]

        # Another customer's order answers exactly like an unknown one, so
        # that order ids cannot be probed.
        order = (
            orders_visible_to(request.user)
            .filter(order_id=order_id)
            .only("order_id", "status", "message", "updated_at")
            .first()
        )
        if order is None:
            raise NotFound(f"No order {order_id}.")
        return Response(OrderStatusSerializer(order).data)
