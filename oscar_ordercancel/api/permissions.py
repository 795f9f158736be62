"""Who may reach the staff endpoint at all; the policy still decides on each order."""

from __future__ import annotations

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.policy import MESSAGES, actor_role


class CanCancelAsStaff(IsAuthenticated):
    """Signed-in users the policy treats as staff or partners on the staff API channel."""

    message = MESSAGES["not_permitted"]
    code = "not_permitted"

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Refuse users who could not cancel any order, before the order is looked up."""
        return super().has_permission(request, view) and actor_role(
            request.user, Channel.ADMIN_API) in ("staff", "partner")
