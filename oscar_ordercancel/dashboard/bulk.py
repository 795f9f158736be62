"""Two-step bulk actions on the order list ("Cancel selected orders": choose, confirm, done).

Oscar 4.2 has them (``oscar.views.generic.IntermediateBulkAction``, its mixin for
the list and its confirmation view); this module hands those out there. Oscar 4.0
and 4.1 have only ``BulkEditMixin``, which runs an action at once: for them the
same three names are defined here with the interface the package uses, so the
order list and ``dashboard:order-bulk-cancel`` are one code path on every release.
The selection waits in the session under a token, as in Oscar 4.2.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.generic import View

from oscar_ordercancel.compat import OSCAR_INTERMEDIATE_BULK_ACTIONS

__all__ = ["IntermediateBulkAction", "IntermediateBulkActionView", "IntermediateBulkEditMixin",
           "TEMPLATE"]

#: The confirmation page a bulk action's template extends: Oscar's own where it has one
#: (so a shop's override of it applies), the package's with the same blocks otherwise.
TEMPLATE = ("oscar/dashboard/intermediate_bulk_action.html" if OSCAR_INTERMEDIATE_BULK_ACTIONS
            else "oscar_ordercancel/dashboard/intermediate_bulk_action.html")

if OSCAR_INTERMEDIATE_BULK_ACTIONS:
    from oscar.views.generic import (  # noqa: F401
        IntermediateBulkAction,
        IntermediateBulkActionView,
        IntermediateBulkEditMixin,
    )
else:
    SESSION_KEY = getattr(settings, "OSCAR_BULK_INTERMEDIATE_SESSION_KEY", "bulk_intermediate")
    TOKEN_PARAM = getattr(settings, "OSCAR_BULK_INTERMEDIATE_TOKEN_PARAM", "key")

    def _ttl() -> int:
        """How long an unconfirmed selection is kept (Oscar 4.2's setting, one day by default)."""
        return getattr(settings, "OSCAR_BULK_INTERMEDIATE_SESSION_TTL_SECONDS", 3600 * 24)

    def _pending(session) -> dict:
        """The session's pending selections, without those older than the time to live."""
        buckets = session.get(SESSION_KEY, {})
        cutoff = time.time() - _ttl()
        for token in [token for token, data in buckets.items() if data.get("created_at", 0) < cutoff]:
            del buckets[token]
            session.modified = True
        return buckets

    class IntermediateBulkAction:
        """A bulk action with a confirmation form (Oscar 4.2's interface)."""

        label = ""
        form_class = None
        template = ""
        require_irreversible_confirmation = False

        def __str__(self) -> str:
            return str(self.label)

        def get_context(self) -> dict:
            """Extra context of the confirmation page."""
            return {}

        def execute(self, request: HttpRequest, objects, form):
            """Act on the confirmed objects."""
            raise NotImplementedError

    class IntermediateBulkEditMixin:
        """Mixed into a list view with Oscar's ``BulkEditMixin``: the selection of an action in
        ``intermediate_actions`` waits in the session and the confirmation page opens."""

        intermediate_actions: dict = {}
        select_across_param = "select_across"
        max_bulk_intermediate_ids = getattr(settings, "OSCAR_MAX_BULK_INTERMEDIATE_IDS", 500)

        def get_intermediate_url(self, request: HttpRequest, action: str) -> str:
            """The confirmation page of ``action``."""
            raise NotImplementedError

        def get_selected_ids(self, request: HttpRequest) -> list:
            """The ids of the selected objects this view shows (all of them with select-across)."""
            if request.POST.get(self.select_across_param, "").lower() == "1":
                return list(self.get_queryset().values_list("pk", flat=True))
            posted = request.POST.getlist(f"selected_{self.get_checkbox_object_name()}")
            return list(self.get_queryset().filter(pk__in=posted).values_list("pk", flat=True))

        def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
            """An intermediate action stores the selection; any other goes to Oscar's own."""
            action = request.POST.get(self.action_param, "").lower()
            ids = self.get_selected_ids(request)
            if action not in self.intermediate_actions:
                # Oscar 4.0 / 4.1 read the posted ids with int(): give them only valid ones.
                request.POST = request.POST.copy()
                request.POST.setlist(f"selected_{self.get_checkbox_object_name()}",
                                     [str(pk) for pk in ids])
                return super().post(request, *args, **kwargs)
            if not ids:
                messages.error(request, _("You need to select some %ss") % self.get_checkbox_object_name())
                return redirect(self.get_error_url(request))
            if len(ids) > self.max_bulk_intermediate_ids:
                messages.error(request, _("Too many %(object)ss selected (%(count)d). Narrow your"
                                          " selection to %(limit)d or fewer and try again.")
                               % {"object": self.get_checkbox_object_name(), "count": len(ids),
                                  "limit": self.max_bulk_intermediate_ids})
                return redirect(self.get_error_url(request))
            raw = f"{action}:{','.join(str(pk) for pk in sorted(ids))}"
            token = hashlib.sha256(raw.encode()).hexdigest()[:12]
            _pending(request.session)
            request.session.setdefault(SESSION_KEY, {})[token] = {
                "action": action, "created_at": time.time(), "object_ids": ids}
            request.session.modified = True
            return redirect(f"{self.get_intermediate_url(request, action)}?{TOKEN_PARAM}={token}")

    class IntermediateBulkActionView(View):
        """The confirmation page: the pending selection's form on GET, the action on POST."""

        intermediate_actions: dict = {}

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self._action, self._selected_ids, self._token = None, [], None

        def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
            """Read the pending selection named by the token; without one, back to the list."""
            self._token = request.GET.get(TOKEN_PARAM)
            data = _pending(request.session).get(self._token) if self._token else None
            if data is not None:
                data["created_at"] = time.time()  # in use: not abandoned
                request.session.modified = True
            data = data or {}
            self._action, self._selected_ids = data.get("action"), data.get("object_ids", [])
            if not self._selected_ids or self._action not in self.intermediate_actions:
                messages.warning(request, _("No pending bulk action. Please select items and try again."))
                return redirect(self.get_cancel_url())
            return super().dispatch(request, *args, **kwargs)

        def get_cancel_url(self) -> str:
            """Where "cancel" leads."""
            raise NotImplementedError

        def get_success_url(self) -> str:
            """Where a done action leads."""
            raise NotImplementedError

        def get_objects(self, form=None):
            """The selected objects."""
            raise NotImplementedError

        def get_form(self, data=None):
            """The pending action's form."""
            return self.intermediate_actions[self._action].form_class(data=data)

        def get_context_data(self, form=None, **kwargs) -> dict:
            """The form, the action and its label, and the way back."""
            action = self.intermediate_actions[self._action]
            ctx = {"form": form if form is not None else self.get_form(), "action": self._action,
                   "action_label": action.label, "cancel_url": self.get_cancel_url(),
                   "require_irreversible_confirmation": action.require_irreversible_confirmation}
            ctx.update(action.get_context())
            ctx.update(kwargs)
            return ctx

        def get_template_name(self) -> str:
            """The pending action's template."""
            return self.intermediate_actions[self._action].template

        def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
            """The confirmation form."""
            return TemplateResponse(request, self.get_template_name(), self.get_context_data())

        def execute_action(self, request: HttpRequest, form):
            """Run the pending action on the selected objects."""
            return self.intermediate_actions[self._action].execute(request, self.get_objects(form), form)

        def _clear_session(self, request: HttpRequest) -> None:
            buckets = request.session.get(SESSION_KEY, {})
            if self._token in buckets:
                del buckets[self._token]
                request.session.modified = True
