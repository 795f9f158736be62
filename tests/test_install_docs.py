"""The installation guide, tested: a fresh shop built from the code blocks of docs/installation.rst.

Three throwaway projects are made with ``django-admin startproject yourshop``, given
Oscar as its own guide sets it up, and then exactly what ``docs/installation.rst``
says: every block whose caption names a file of ``yourshop`` is copied in as written.
Each project runs ``manage.py migrate`` and ``check`` in a subprocess with this
interpreter, on an SQLite file in its own temporary directory, and a scenario
(``manage.py shell``) cancels orders through the customer page, the REST API and the
dashboard, as a member of the group ``manage.py ordercancel_staff_group`` makes:

* ``forks``: the package's order and orders dashboard forks, as the guide lists them;
* ``plain``: Oscar's own apps ("Without the forks");
* ``own``: the shop's own forks, generated with ``oscar_fork_app`` and then built on
  the package's mixins and classes as "If you already fork ..." says.

When the package and the guide drift apart, these tests fail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import oscar_ordercancel
from oscar_ordercancel import compat

pytestmark = pytest.mark.install_docs

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "installation.rst"
#: The directory the package is imported from (the source tree, or site-packages for a wheel).
PACKAGE_ROOT = Path(oscar_ordercancel.__file__).resolve().parent.parent
CONFIGS = ("forks", "plain", "own")  # the first migrates; the others start from its database
SETTINGS_CAPTION = "yourshop/settings.py"
VARIANT_CAPTIONS = {
    "plain": "yourshop/settings.py, without the forks",
    "own": "yourshop/settings.py, with your own forks",
}
#: Files written as the guide shows them (caption → path in the project).
FILE_CAPTIONS = {
    "yourshop/urls.py": "yourshop/urls.py",
    "yourshop/celery.py": "yourshop/celery.py",
    "yourshop/__init__.py": "yourshop/__init__.py",
}
OWN_FORK_CAPTIONS = {
    "yourshop/order/models.py": "yourshop/order/models.py",
    "yourshop/order/processing.py": "yourshop/order/processing.py",
    "yourshop/dashboard/orders/apps.py": "yourshop/dashboard/orders/apps.py",
    "yourshop/dashboard/orders/views.py": "yourshop/dashboard/orders/views.py",
}
#: A shop that forks the order app and orders dashboard after installing the package.
LATER_FORK_CAPTIONS = {
    "yourshop/order/processing.py, forked after installing the package": "yourshop/order/processing.py",
}
TIMEOUT = 300

#: What Oscar's "Building your own shop" adds to a startproject settings.py (not this
#: package's instructions, so not in its guide).
OSCAR_GUIDE_SETTINGS = '''

# --- django-oscar, as its "Building your own shop" guide sets it up ---
from oscar.defaults import *  # noqa: E402,F403

TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "django.template.context_processors.i18n",
    "oscar.apps.search.context_processors.search_form",
    "oscar.apps.checkout.context_processors.checkout",
    "oscar.apps.communication.notifications.context_processors.notifications",
    "oscar.core.context_processors.metadata",
]
MIDDLEWARE += [
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
SITE_ID = 1
'''

#: The test's own last word: no broker, no SMTP, quick password hashing.
TEST_SETTINGS = '''

# --- test only ---
CELERY_TASK_ALWAYS_EAGER = True
if "MAILERS" in globals():  # Django 6.1's startproject: MAILERS, where EMAIL_BACKEND is refused
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
'''

SCENARIO = r'''
"""Run inside ``manage.py shell``: cancel as a customer, through the API and as staff."""
import base64
import json
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order

import oscar_ordercancel
from oscar_ordercancel.order.mixins import CancellableOrderMixin, CancellationEventHandlerMixin

setup_test_environment()  # the test client's host, templates' contexts, the e-mail outbox
CONFIG = os.environ["INSTALL_CONFIG"]
imported_from = os.path.dirname(os.path.dirname(oscar_ordercancel.__file__))
assert os.path.realpath(imported_from) == os.path.realpath(os.environ["PACKAGE_ROOT"]), imported_from
User = get_user_model()
Order = get_model("order", "Order")
EventHandler = get_class("order.processing", "EventHandler")
if CONFIG == "own":
    assert Order.__module__ == "yourshop.order.models", Order.__module__
    assert EventHandler.__module__ == "yourshop.order.processing", EventHandler.__module__
assert issubclass(Order, CancellableOrderMixin) == (CONFIG != "plain")
assert issubclass(EventHandler, CancellationEventHandlerMixin) == (CONFIG != "plain")

customer = User.objects.create_user("customer", "customer@example.com", "secret")

# -- the customer cancels from their account's order page
order = create_order(user=customer)
assert order.status == "Pending", order.status
web = Client()
assert web.login(username="customer@example.com", password="secret")
cancel_url = reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number})
page = web.get(reverse("customer:order", kwargs={"order_number": order.number}))
assert page.status_code == 200, page.status_code
assert cancel_url in page.content.decode(), "the customer's order page offers no cancel button"
assert web.get(cancel_url).status_code == 200
done = web.post(cancel_url, {"reason": "customer"})
assert done.status_code == 302, (done.status_code, done.content[:500])
order.refresh_from_db()
assert order.status == "Cancelled", order.status
assert order.cancellations.get().channel == "customer"
assert [m.to for m in mail.outbox] == [["customer@example.com"]], [m.to for m in mail.outbox]

# -- the REST API, HTTP Basic with the e-mail address as the login
order = create_order(user=customer)
api = Client()
auth = "Basic " + base64.b64encode(b"customer@example.com:secret").decode()
answer = api.post(f"/api/orders/{order.pk}/cancel/", data={"reason": "customer"},
                  content_type="application/json", HTTP_AUTHORIZATION=auth)
assert answer.status_code == 201, (answer.status_code, answer.content[:500])
assert answer.json()["order_url"].endswith(f"/api/orders/{order.pk}/"), answer.json()
order.refresh_from_db()
assert order.status == "Cancelled", order.status
resource = api.get(f"/api/orders/{order.pk}/", HTTP_AUTHORIZATION=auth)
assert resource.status_code == 200, resource.status_code
assert resource.json()["cancellation"]["channel"] == "api", resource.json()
assert resource.json()["can_cancel"] is False, resource.json()

# -- staff: the documented command lines, then every staff screen and a cancellation
commands = json.loads(os.environ["STAFF_COMMANDS"])
emails = [args[i + 1] for args in commands for i, arg in enumerate(args) if arg == "--user"]
for email in emails:
    User.objects.create_user(email.split("@")[0], email, "secret")
for args in commands:
    call_command(*args)
clerk = User.objects.get(email=emails[0])
assert clerk.is_staff and not clerk.is_superuser
desk = Client()
assert desk.login(username=emails[0], password="secret")
order = create_order(user=customer)
number = {"number": order.number}
if CONFIG == "plain":
    cancel_page = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs=number)
else:
    cancel_page = reverse("dashboard:order-cancel", kwargs=number)
pages = [
    reverse("dashboard:index"),
    reverse("dashboard:order-list"),
    reverse("dashboard:order-detail", kwargs=number),
    cancel_page,
    reverse("ordercancel_dashboard:ordercancel-job-list"),
    reverse("ordercancel_dashboard:ordercancel-withdrawal-list"),
    reverse("ordercancel_dashboard:ordercancel-batch-list"),
    reverse("ordercancel_dashboard:ordercancel-batch-upload"),
    reverse("ordercancel_dashboard:ordercancel-mapping-list"),
    reverse("ordercancel_dashboard:ordercancel-mapping-create"),
    reverse("ordercancel_dashboard:ordercancel-settings-site", kwargs={"site_id": 1}),
]
statuses = {url: desk.get(url).status_code for url in pages}
assert statuses == dict.fromkeys(pages, 200), statuses
detail = desk.get(reverse("dashboard:order-detail", kwargs=number))
if CONFIG == "own":
    assert detail.resolver_match.func.view_class.__module__ == "yourshop.dashboard.orders.views"
if CONFIG != "plain":
    assert cancel_page in detail.content.decode(), "the order page offers no cancel button"
data = {f"quantity_{line.pk}": line.quantity for line in order.lines.all()}
data.update(reason="staff", notify_customer="on")
preview = desk.post(cancel_page, data)
assert preview.status_code == 200, (preview.status_code, preview.content[:500])
done = desk.post(cancel_page, {**data, "confirm": "1", "previewed": preview.context["previewed"]})
assert done.status_code == 302, (done.status_code, done.content[:500])
order.refresh_from_db()
assert order.status == "Cancelled", order.status
assert order.cancellations.get().user == clerk

# -- Oscar's own status change: a real cancellation with the order fork or the mixin
order = create_order(user=customer)
EventHandler(user=clerk).handle_order_status_change(order, "Cancelled")
order.refresh_from_db()
assert order.status == "Cancelled"
assert order.cancellations.exists() == (CONFIG != "plain")

CommunicationEventType = get_model("communication", "CommunicationEventType")
group = Group.objects.get(name="Order cancellation")
with open(os.environ["RESULT"], "w") as out:
    json.dump({
        "event_types": sorted(CommunicationEventType.objects.values_list("code", flat=True)),
        "group_permissions": sorted(f"{p.content_type.app_label}.{p.codename}"
                                    for p in group.permissions.all()),
    }, out)
print("scenario passed")
'''

#: Run in the project without DJANGO_SETTINGS_MODULE, as ``celery -A yourshop worker`` starts.
CELERY_PROBE = '''
import json
from yourshop.celery import app
app.loader.import_default_modules()  # what a worker does first: Django set up, tasks found
print(json.dumps({"broker_url": app.conf.broker_url, "tasks": sorted(app.tasks)}))
'''


# -- reading the guide --------------------------------------------------------------


@dataclass
class Block:
    language: str
    caption: str
    name: str
    code: str


def guide_blocks(text: str | None = None) -> list[Block]:
    """Every ``code-block`` of the guide, with its caption, name and dedented content."""
    lines = (GUIDE.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block::\s*(\S+)\s*$", lines[i])
        if not match:
            i += 1
            continue
        indent, options, i = len(match.group(1)), {}, i + 1
        while i < len(lines) and (option := re.match(r"^\s+:(\w+):\s*(.*)$", lines[i])):
            options[option.group(1)] = option.group(2).strip()
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append(Block(match.group(2), options.get("caption", ""), options.get("name", ""),
                            textwrap.dedent("\n".join(body)).strip("\n") + "\n"))
    return blocks


def blocks_captioned(caption: str) -> list[Block]:
    return [block for block in guide_blocks() if block.caption == caption]


def one_block(caption: str) -> str:
    found = blocks_captioned(caption)
    assert len(found) == 1, f"the guide should have one block captioned {caption!r}: {len(found)}"
    return found[0].code


def console_commands(name: str) -> list[list[str]]:
    """The ``$ python manage.py ...`` lines of the console block ``name``, as argv lists."""
    block = next(block for block in guide_blocks() if block.name == name)
    commands = [shlex.split(line[1:]) for line in block.code.splitlines() if line.startswith("$")]
    assert commands and all(args[:2] == ["python", "manage.py"] for args in commands), commands
    return [args[2:] for args in commands]


def replacements(caption: str) -> list[tuple[str, str]]:
    """``("new", "old")`` pairs of a block that lists INSTALLED_APPS entries, each after a
    ``# instead of "old":`` line; anything else in it is ``# ...`` or the list's brackets."""
    pairs, old = [], None
    for line in one_block(caption).splitlines():
        instead = re.match(r'^\s*# instead of "([\w.]+)":$', line)
        entry = re.match(r'^\s*"([\w.]+)",$', line)
        if instead:
            old = instead.group(1)
        elif entry:
            assert old, f"{caption}: {line.strip()} says not what it replaces"
            pairs.append((entry.group(1), old))
            old = None
        else:
            assert line.strip() in ("INSTALLED_APPS = [", "]") or line.strip().startswith("# ..."), line
    assert pairs, caption
    return pairs


def settings_additions(config: str) -> str:
    """The guide's settings blocks, in order, with the configuration's INSTALLED_APPS entries."""
    text = "\n\n".join(block.code for block in blocks_captioned(SETTINGS_CAPTION))
    if config in VARIANT_CAPTIONS:
        for new, old in replacements(VARIANT_CAPTIONS[config]):
            assert text.count(f'"{old}",') == 1, f"{old} is not once in the guide's INSTALLED_APPS"
            text = text.replace(f'"{old}",', f'"{new}",')
    return text


def documented_list(section: str, after: str, pattern: str) -> set[str]:
    """The literals matching ``pattern`` in the bullet list after ``after`` in a section."""
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(after, text.index(f"\n{section}\n"))
    items = text[start:].split("\n\n", 2)[1]
    assert items.lstrip().startswith("* "), items
    return set(re.findall(rf"``({pattern})``", items))


# -- building a shop ----------------------------------------------------------------


@dataclass
class Shop:
    config: str
    root: Path
    steps: list = field(default_factory=list)
    failed: str | None = None
    facts: dict = field(default_factory=dict)
    base_settings: str = ""
    #: The shop whose freshly migrated database this one starts from (None: migrate afresh).
    database_from: Shop | None = None
    migrated: threading.Event = field(default_factory=threading.Event)

    @property
    def project(self) -> Path:
        return self.root / "yourshop"

    @property
    def snapshot(self) -> Path:
        return self.root / "migrated.sqlite3"

    def env(self, settings: bool = True) -> dict:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DJANGO_", "ORDERCANCEL_", "CELERY_", "SANDBOX_"))}
        env["PYTHONPATH"] = str(PACKAGE_ROOT)
        env["PACKAGE_ROOT"] = str(PACKAGE_ROOT)
        if settings:
            env["DJANGO_SETTINGS_MODULE"] = "yourshop.settings"
        return env

    def run(self, label: str, args: list[str], *, cwd: Path | None = None, env: dict | None = None,
            expect_ok: bool = True) -> subprocess.CompletedProcess:
        """Run ``args`` with this interpreter; a failure stops the build and says where."""
        if self.failed:
            raise RuntimeError(self.failed)
        done = subprocess.run([sys.executable, *args], cwd=cwd or self.project, env=env or self.env(),
                              capture_output=True, text=True, timeout=TIMEOUT)
        self.steps.append((label, done))
        if expect_ok and done.returncode != 0:
            self.failed = (f"[{self.config}] {label} failed (exit {done.returncode}):\n"
                           f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}")
            raise RuntimeError(self.failed)
        return done

    def manage(self, label: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run(label, ["manage.py", *args], **kwargs)

    def step(self, label: str) -> subprocess.CompletedProcess:
        """The output of a step that ran (or the reason the build stopped before it)."""
        for name, done in self.steps:
            if name == label:
                return done
        pytest.fail(self.failed or f"[{self.config}] step {label!r} did not run")

    def write(self, relative: str, text: str) -> None:
        path = self.project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def write_settings(self, config: str) -> None:
        self.write("yourshop/settings.py", self.base_settings + OSCAR_GUIDE_SETTINGS
                   + "\n# --- oscar-ordercancel, as docs/installation.rst says ---\n"
                   + settings_additions(config) + TEST_SETTINGS)

    def build(self) -> Shop:
        try:
            self._build()
        except RuntimeError:
            pass  # recorded in self.failed; the tests report it
        except Exception as exc:  # noqa: BLE001 - report anything as this shop's failure
            self.failed = f"[{self.config}] {type(exc).__name__}: {exc}"
        finally:
            self.migrated.set()  # never keep the others waiting
        return self

    def _build(self) -> None:
        self.run("startproject", ["-m", "django", "startproject", "yourshop"], cwd=self.root,
                 env=self.env(settings=False))
        self.base_settings = (self.project / "yourshop" / "settings.py").read_text(encoding="utf-8")
        for caption, path in FILE_CAPTIONS.items():
            self.write(path, one_block(caption))
        if self.config == "own":
            # The shop forked Oscar's apps before it met this package, with Oscar's command.
            self.write_settings("plain")
            self.manage("fork order", "oscar_fork_app", "order", "yourshop")
            self.manage("fork orders dashboard", "oscar_fork_app", "orders_dashboard", "yourshop")
            self.write_settings("own")
            self.manage("check before the mixins", "check", expect_ok=False)
            for caption, path in OWN_FORK_CAPTIONS.items():
                self.write(path, one_block(caption))
        else:
            self.write_settings(self.config)
        if self.config == "forks":
            self.run("celery probe", ["-c", CELERY_PROBE], env=self.env(settings=False))
        if self.database_from is not None:
            # Migrating Oscar's apps takes most of a build: start from the database the
            # package's fork made, which also shows that switching needs no migration.
            source = self.database_from
            if not source.migrated.wait(TIMEOUT * 2) or not source.snapshot.exists():
                raise RuntimeError(f"[{self.config}] no database: {source.failed}")
            shutil.copyfile(source.snapshot, self.project / "db.sqlite3")
        for args in console_commands("install-migrate"):
            self.manage(" ".join(args), *args)
            if args[0] == "migrate" and self.database_from is None:
                shutil.copyfile(self.project / "db.sqlite3", self.snapshot)
                self.migrated.set()
        if self.config == "own":
            self.manage("makemigrations --check", "makemigrations", "--check", "--dry-run")
        self.write("install_scenario.py", SCENARIO)
        env = self.env()
        env.update(INSTALL_CONFIG=self.config, RESULT=str(self.root / "result.json"),
                   STAFF_COMMANDS=json.dumps(console_commands("install-staff-group")))
        self.manage("scenario", "shell", "-c",
                    "import runpy; runpy.run_path('install_scenario.py')", env=env)
        self.facts = json.loads((self.root / "result.json").read_text(encoding="utf-8"))
        if self.config == "forks":
            self.fork_later()

    def fork_later(self) -> None:
        """Fork the package's forks as "Forking after installing the package" says."""
        for args in console_commands("install-fork-later"):
            self.manage(" ".join(args), *args)
        self.write_settings("own")
        views = "yourshop/dashboard/orders/views.py"
        self.write(views, one_block(next(c for c, path in OWN_FORK_CAPTIONS.items() if path == views)))
        self.manage("check, forked later, without processing.py", "check", expect_ok=False)
        for caption, path in LATER_FORK_CAPTIONS.items():
            self.write(path, one_block(caption))
        self.manage("check, forked later", "check")
        self.manage("makemigrations --check, forked later", "makemigrations", "--check", "--dry-run")


@pytest.fixture(scope="module")
def shops(tmp_path_factory) -> dict[str, Shop]:
    """The three shops, built side by side."""
    first = Shop(CONFIGS[0], tmp_path_factory.mktemp(f"install-{CONFIGS[0]}"))
    shops = [first, *(Shop(config, tmp_path_factory.mktemp(f"install-{config}"), database_from=first)
                      for config in CONFIGS[1:])]
    with ThreadPoolExecutor(max_workers=len(shops)) as pool:
        return {shop.config: shop for shop in pool.map(Shop.build, shops)}


def check_ids(done: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"\(([a-z_]+\.[EW]\d{3})\)", done.stdout + done.stderr))


# -- the tests ----------------------------------------------------------------------


def test_every_file_block_of_the_guide_is_used():
    used = {SETTINGS_CAPTION, *VARIANT_CAPTIONS.values(), *FILE_CAPTIONS, *OWN_FORK_CAPTIONS,
            *LATER_FORK_CAPTIONS}
    captions = {block.caption for block in guide_blocks() if block.caption}
    assert captions == used
    names = [block.name for block in guide_blocks() if block.caption]
    assert all(names) and len(names) == len(set(names))  # each one can be linked to


def test_the_guide_lists_installed_apps_whole_and_in_order():
    block = next(block.code for block in guide_blocks() if block.name == "install-apps")
    apps = re.findall(r'^\s*"([\w.]+)",', block, re.M)
    assert "..." not in block  # the whole list, nothing left to guess
    assert apps.index("oscar_ordercancel.apps.OrderCancelConfig") < apps.index("oscar.config.Shop")
    assert apps.index("oscar.config.Shop") < apps.index(
        "oscar_ordercancel.dashboard.apps.OrderCancelDashboardConfig")
    assert "oscar.apps.order.apps.OrderConfig" not in apps
    assert "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig" not in apps


@pytest.mark.parametrize("config", CONFIGS)
def test_check_reports_only_what_the_guide_announces(shops, config):
    ids = check_ids(shops[config].step("check"))
    # W003: no cancel processor yet ("Migrate and check"); W006: no fork ("Without the forks").
    expected = {"ordercancel.W003"} | ({"ordercancel.W006"} if config == "plain" else set())
    assert ids == expected, shops[config].step("check").stderr


def test_a_forked_order_app_without_the_mixins_is_warned_about(shops):
    done = shops["own"].step("check before the mixins")
    assert {"ordercancel.W006", "ordercancel.W007"} <= check_ids(done), done.stderr


@pytest.mark.parametrize("config", CONFIGS[1:])
def test_switching_from_the_package_forks_needs_no_migration(shops, config):
    # Their database is the one the package's forks migrated ("How the fork reuses ...").
    done = shops[config].step("migrate")
    assert "No migrations to apply." in done.stdout, done.stdout + done.stderr


def test_the_own_forks_need_no_migration(shops):
    done = shops["own"].step("makemigrations --check")
    assert done.returncode == 0 and "No changes detected" in done.stdout, done.stdout + done.stderr


def test_forking_the_package_forks_later_works_as_the_guide_says(shops):
    forks = shops["forks"]
    created = sorted(str(path.relative_to(forks.project))
                     for path in forks.project.glob("yourshop/*/**/apps.py"))
    assert created == ["yourshop/dashboard/orders/apps.py", "yourshop/order/apps.py"]
    assert "ordercancel.W006" in check_ids(forks.step("check, forked later, without processing.py"))
    assert check_ids(forks.step("check, forked later")) == {"ordercancel.W003"}
    done = forks.step("makemigrations --check, forked later")
    assert "No changes detected" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("config", CONFIGS)
def test_customers_api_clients_and_staff_cancel(shops, config):
    done = shops[config].step("scenario")
    assert "scenario passed" in done.stdout, done.stdout + done.stderr


def test_the_guide_names_every_email_that_migrate_creates(shops):
    created = set(shops["forks"].facts["event_types"])
    documented = documented_list("Migrate and check", "eight communication event types",
                                 r"[A-Z][A-Z_]+")
    assert created == documented
    assert "eight" in GUIDE.read_text(encoding="utf-8") and len(created) == 8


def test_the_guide_lists_the_staff_groups_permissions(shops):
    documented = documented_list("Staff permissions", "with these permissions:", r"\w+\.\w+")
    guide = GUIDE.read_text(encoding="utf-8")
    if not compat.GRANULAR_DASHBOARD_PERMISSIONS:  # Oscar 4.0/4.1: every order permission
        assert all(f"``{perm}``" in guide for perm in compat.ORDER_PAGE_PERMISSIONS)
        documented |= set(compat.ORDER_PAGE_PERMISSIONS)
    for config in CONFIGS:
        assert set(shops[config].facts["group_permissions"]) == documented, config


def test_the_celery_module_works_without_django_settings_in_the_environment(shops):
    done = shops["forks"].step("celery probe")
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    settings = "\n".join(block.code for block in blocks_captioned(SETTINGS_CAPTION))
    assert f'CELERY_BROKER_URL = "{probe["broker_url"]}"' in settings
    assert "oscar_ordercancel.send_customer_email" in probe["tasks"]
