"""``manage.py ordercancel_staff_group``: a group with every permission the cancellation screens need.

The permissions are read from the dashboard apps' ``permissions_map``, as the installed
Oscar release writes it (per URL from Oscar 4.2; by category on 4.0 and 4.1, where the
order pages need every order permission), so a screen added to the package's dashboard
app is covered without a change here. Running the command again changes nothing.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

#: The default name of the group.
DEFAULT_GROUP_NAME = gettext_lazy("Order cancellation")

#: The package's own staff permission: the cancel screens take it or Oscar's
#: ``order.change_order``, which grants much more (editing orders), so the group gets ours.
CANCEL_PERMISSION = "oscar_ordercancel.cancel_order"

#: Permissions a screen checks inside its view rather than in ``permissions_map``:
#: saving a site's cancellation settings.
VIEW_PERMISSIONS = ("oscar_ordercancel.change_cancellationsettings",)

#: The screens of Oscar's orders dashboard (label ``orders_dashboard``) the package
#: uses: the order list and page (with the cancel controls) and, with the package's
#: fork, the cancel form, the bulk cancel page and resubmitting.
ORDER_SCREENS = ("order-list", "order-detail", "order-cancel", "order-bulk-cancel", "order-resubmit")

#: The partner permission makes a user a partner user (limited to its partners' orders):
#: never what a group of shop staff should get.
PARTNER_PERMISSION = "partner.dashboard_access"


def _alternatives(permissions) -> list[list[str]]:
    """A ``permissions_map`` value as a list of alternatives (each a list that must all hold)."""
    if not permissions:
        return [[]]
    if isinstance(permissions, list):
        return [permissions]
    return [list(option) for option in permissions]


def staff_screens() -> list[tuple[str, object]]:
    """``(URL name, permissions)`` of every staff screen of the package that is installed."""
    screens = []
    try:
        own = apps.get_app_config("ordercancel_dashboard")
    except LookupError:
        own = None
    try:
        orders = apps.get_app_config("orders_dashboard")
    except LookupError:
        orders = None
    if orders is not None:
        names = {pattern.name for pattern in orders.get_urls()}
        screens += [(f"dashboard:{name}", orders.get_permissions(name))
                    for name in ORDER_SCREENS if name in names]
    if own is not None:
        screens += [(f"{own.namespace}:{pattern.name}", own.get_permissions(pattern.name))
                    for pattern in own.get_urls() if getattr(pattern, "name", None)]
    return screens


def staff_group_permissions() -> list[str]:
    """The permissions (``app_label.codename``) that open every staff screen of the package.

    For each screen, the first alternative of its ``permissions_map`` entry that is made
    of permissions (not partner access) is taken, unless one the group already has will do.
    Conditions such as ``is_staff`` are the user's, not a group's.
    """
    chosen = [CANCEL_PERMISSION]
    for __, permissions in staff_screens():
        options = [[perm for perm in option if "." in perm] for option in _alternatives(permissions)
                   if PARTNER_PERMISSION not in option]
        if not options or any(set(option) <= set(chosen) for option in options):
            continue
        chosen += [perm for perm in sorted(options[0]) if perm not in chosen]
    chosen += [perm for perm in VIEW_PERMISSIONS if perm not in chosen]
    return sorted(chosen)


def _permission_objects(names: list[str]) -> list[Permission]:
    """The ``Permission`` rows of ``names``; a missing one means ``migrate`` has not run."""
    found = []
    for name in names:
        app_label, codename = name.split(".", 1)
        try:
            found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        except Permission.DoesNotExist:
            raise CommandError(_("The permission %(permission)s does not exist: run "
                                 "“manage.py migrate” first.") % {"permission": name}) from None
    return found


def _users(emails: list[str]) -> list:
    """The users with these e-mail addresses; an unknown or ambiguous address is an error."""
    User = get_user_model()
    email_field = User.get_email_field_name()
    users = []
    for email in emails:
        matches = list(User._default_manager.filter(**{f"{email_field}__iexact": email.strip()})[:2])
        if not matches:
            raise CommandError(_("No user has the e-mail address %(email)s; nothing was changed.")
                               % {"email": email})
        if len(matches) > 1:
            raise CommandError(_("More than one user has the e-mail address %(email)s; nothing "
                                 "was changed.") % {"email": email})
        users.append(matches[0])
    return users


class Command(BaseCommand):
    requires_system_checks = []  # a permission set-up: the shop's checks are not its business

    @property
    def help(self) -> str:
        """Translated when asked for (argparse takes no lazy strings)."""
        return _("Create or update a group with every permission the order cancellation staff "
                 "screens need, and optionally add users to it.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", default=None,
                            help=_("The group's name (default: “%(name)s”).")
                            % {"name": DEFAULT_GROUP_NAME})
        parser.add_argument("--user", action="append", default=[], dest="users", metavar="EMAIL",
                            help=_("Add the user with this e-mail address to the group and mark "
                                   "them as staff (repeat for more users)."))

    def handle(self, *args, name=None, users=(), **options) -> None:
        name = (name if name is not None else str(DEFAULT_GROUP_NAME)).strip()
        if not name:
            raise CommandError(_("The group's name must not be empty."))
        if len(name) > Group._meta.get_field("name").max_length:
            raise CommandError(_("The group's name is longer than %(max)s characters.")
                               % {"max": Group._meta.get_field("name").max_length})
        wanted = staff_group_permissions()
        permissions = _permission_objects(wanted)
        members = _users(list(users))
        with transaction.atomic():
            group, created = Group.objects.get_or_create(name=name)
            have = set(group.permissions.values_list("pk", flat=True))
            missing = [(label, perm) for label, perm in zip(wanted, permissions, strict=True)
                       if perm.pk not in have]
            group.permissions.add(*(perm for __, perm in missing))
            joined, staffed = [], []
            for user in members:
                if not user.is_staff:
                    user.is_staff = True
                    user.save(update_fields=["is_staff"])
                    staffed.append(user)
                if not user.groups.filter(pk=group.pk).exists():
                    user.groups.add(group)
                    joined.append(user)
        self.report(group, created, [label for label, __ in missing], members, joined, staffed)

    def report(self, group, created: bool, added: list[str], members: list, joined: list,
               staffed: list) -> None:
        """Say what was done, and that nothing was when nothing was."""
        write = self.stdout.write
        if created:
            write(_("Created the group “%(name)s”.") % {"name": group.name})
        if added:
            write(ngettext("Gave the group “%(name)s” %(count)s permission: %(permissions)s.",
                           "Gave the group “%(name)s” %(count)s permissions: %(permissions)s.",
                           len(added))
                  % {"name": group.name, "count": len(added), "permissions": ", ".join(added)})
        else:
            write(_("The group “%(name)s” already has every permission the order cancellation "
                    "screens need.") % {"name": group.name})
        for user in members:
            email = getattr(user, user.get_email_field_name())
            if user in staffed:
                write(_("Marked %(email)s as staff: Oscar's dashboard admits only staff users.")
                      % {"email": email})
            if user in joined:
                write(_("Added %(email)s to the group.") % {"email": email})
            else:
                write(_("%(email)s was already in the group.") % {"email": email})
        if not (created or added or joined or staffed):
            write(_("Nothing was changed."))
