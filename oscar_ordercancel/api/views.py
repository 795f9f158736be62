"""REST views: each validates the request's shape and makes one ``services.cancel_order`` call.

The policy decides everything else; its refusals become ``{"code", "message"}``
responses with the status given in :mod:`oscar_ordercancel.api.errors`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from oscar.core.loading import get_model
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from oscar_ordercancel import services
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.api.errors import exception_handler
from oscar_ordercancel.api.permissions import CanCancelAsStaff
from oscar_ordercancel.api.serializers import (
    AdminCancellationSerializer,
    AdminCancelRequestSerializer,
    CancellationSerializer,
    CancelRequestSerializer,
    WithdrawalSerializer,
    WithdrawRequestSerializer,
    cancellation_queryset,
)


class CancellationAPIMixin:
    """Errors as ``{"code", "message"}`` JSON on every cancellation endpoint."""

    def get_exception_handler(self) -> Callable:
        """The package's handler instead of the project-wide one."""
        return exception_handler


class OrderCancelView(CancellationAPIMixin, generics.GenericAPIView):
    """``POST api/orders/<pk>/cancel/``: the signed-in owner cancels the order or some lines."""

    permission_classes = (IsAuthenticated,)
    serializer_class = CancelRequestSerializer
    response_serializer_class = CancellationSerializer
    channel = Channel.API

    @classmethod
    def as_view(cls, **initkwargs) -> Callable:
        """The view, outside ``ATOMIC_REQUESTS``: the engine runs its own transaction,
        so a lock it cannot get in time answers ``409 busy``, not a server error."""
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def get_queryset(self) -> QuerySet:
        """Only the user's own orders: anyone else's order is a 404."""
        return get_model("order", "Order").objects.filter(user=self.request.user)

    def get_actor(self) -> object:
        """The user the policy judges and the record names."""
        return self.request.user

    def post(self, request: Request, *args, **kwargs) -> Response:
        """Cancel; 201 with the cancellation, or an error and no change."""
        order = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cancellation = services.cancel_order(
            order, user=self.get_actor(), channel=self.channel, **serializer.cancel_kwargs()
        )
        cancellation = cancellation_queryset().get(pk=cancellation.pk)
        data = self.response_serializer_class(cancellation, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class OrderCancellationListView(CancellationAPIMixin, generics.ListAPIView):
    """``GET api/orders/<pk>/cancellations/``: the owner's view of the order's cancellations."""

    permission_classes = (IsAuthenticated,)
    serializer_class = CancellationSerializer

    def get_order(self) -> object:
        """The user's own order (404 for anyone else's)."""
        orders = get_model("order", "Order").objects.filter(user=self.request.user)
        return generics.get_object_or_404(orders, pk=self.kwargs["pk"])

    def get_queryset(self) -> QuerySet:
        """Newest first, with lines and titles loaded up front."""
        order = self.get_order()
        return cancellation_queryset().filter(order=order).order_by("-date_created", "-pk")


class AdminOrderCancelView(OrderCancelView):
    """``POST api/admin/orders/<pk>/cancel/``: staff (or a partner, for its orders) cancel any order."""

    permission_classes = (CanCancelAsStaff,)
    serializer_class = AdminCancelRequestSerializer
    response_serializer_class = AdminCancellationSerializer
    channel = Channel.ADMIN_API

    def get_queryset(self) -> QuerySet:
        """Every order; the policy decides whether this user may cancel it."""
        return get_model("order", "Order").objects.all()


class OrderWithdrawView(OrderCancelView):
    """``POST api/orders/<pk>/withdraw/``: the signed-in owner withdraws from the order (or lines).

    201 with the declaration (its acknowledgement is e-mailed as from the withdrawal page);
    the withdrawal policy's refusals as ``{"code", "message"}`` (404 while it is disabled).
    """

    serializer_class = WithdrawRequestSerializer
    response_serializer_class = WithdrawalSerializer

    def post(self, request: Request, *args, **kwargs) -> Response:
        """Declare; 201 with the declaration, or an error and nothing recorded."""
        from oscar_ordercancel.policy import withdrawal_enabled

        order = self.get_object()
        if not withdrawal_enabled(order.site_id):
            raise Http404
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        declaration = services.declare_withdrawal(
            order, channel="api", **serializer.withdraw_kwargs(request.user))
        declaration = (get_model("oscar_ordercancel", "WithdrawalDeclaration").objects
                       .select_related("order", "cancellation").prefetch_related("lines__line")
                       .get(pk=declaration.pk))
        return Response(self.response_serializer_class(declaration).data, status=status.HTTP_201_CREATED)
