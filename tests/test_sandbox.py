"""The sandbox: its demo data (what `make sandbox` loads), the Django admin pages, its logging,
and the Celery worker `make sandbox` runs beside the server."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.compat import GUEST_ORDER_EMAIL_CHECK
from oscar_ordercancel.models import OrderCancellation, OrderStatusMapping
from oscar_ordercancel.policy import can_cancel

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_demo_data_has_orders_in_every_status_and_prints_logins():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= set(Order.pipeline)
    assert OrderStatusMapping.objects.count() == len(Order.pipeline)
    assert OrderCancellation.objects.filter(is_full=False).exists()
    assert Order.objects.filter(user=None).exists()  # a guest order
    printed = out.getvalue()
    assert "customer@example.com" in printed and "staff@example.com" in printed

    customer_orders = Order.objects.filter(user__email="customer@example.com", status="Pending")
    from django.contrib.auth import get_user_model

    customer = get_user_model().objects.get(email="customer@example.com")
    codes = {can_cancel(o, customer, channel="customer").code for o in customer_orders}
    assert "ok" in codes and "window_passed" in codes

    again = StringIO()
    call_command("load_demo_data", stdout=again)  # a second run changes nothing
    assert "already loaded" in again.getvalue()


def _withdrawal_demo_orders(printed: str) -> dict[str, object]:
    """The withdrawal demo orders the command printed, by the start of their note."""
    section = printed.split("Withdrawal demo orders", 1)[1].split("Sandbox logins:", 1)[0]
    cases = {"delivered 3 days ago": "delivered_recently", "delivered 20 days ago": "delivered_long_ago",
             "shipped 2 days ago": "shipped", "custom print only": "custom_print",
             "custom print + notebooks": "custom_print_and_more", "guest order": "guest"}
    found = {}
    for line in section.splitlines():
        for text, case in cases.items():
            if text in line:
                found[case] = Order.objects.get(number=line.split()[0])
    assert set(found) == set(cases.values()), section
    return found


def test_demo_data_has_an_order_for_every_withdrawal_case(settings):
    from oscar_ordercancel.services import can_withdraw, preview_withdrawal

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = ("custom-print",)
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    orders = _withdrawal_demo_orders(out.getvalue())
    customer = get_user_model().objects.get(email="customer@example.com")

    def outcome(order, user):
        decision = can_withdraw(order, user=user)
        if not decision:
            return decision.code
        return {row["line"].product.upc: (row["quantity"], row["at_once"])
                for row in preview_withdrawal(order, decision, user=user)}

    def everything(order, at_once):
        return {line.product.upc: (line.quantity, line.quantity if at_once else 0)
                for line in order.lines.all()}

    recent, shipped = orders["delivered_recently"], orders["shipped"]
    assert outcome(recent, customer) == everything(recent, at_once=False)  # awaits the return
    assert outcome(orders["delivered_long_ago"], customer) == "withdrawal_period_passed"
    assert outcome(shipped, customer) == everything(shipped, at_once=False)
    assert outcome(orders["custom_print"], customer) == "withdrawal_excluded"
    mixed = orders["custom_print_and_more"]
    notebook = mixed.lines.exclude(product__product_class__slug="custom-print").get()
    assert outcome(mixed, customer) == {notebook.product.upc: (notebook.quantity, notebook.quantity)}
    guest = orders["guest"]
    assert guest.user_id is None and guest.guest_email == "guest.withdraw@example.com"
    assert outcome(guest, None) == everything(guest, at_once=True)
    # The shipping events are Oscar's: "delivered" 3 and 20 days ago, "shipped" 2 days ago.
    ages = {(order.number, event.event_type.code): (timezone.now() - event.date_created).days
            for order in (recent, orders["delivered_long_ago"], shipped)
            for event in order.shipping_events.all()}
    assert ages[recent.number, "delivered"] == 3 and ages[shipped.number, "shipped"] == 2
    assert ages[orders["delivered_long_ago"].number, "delivered"] == 20
    assert (shipped.number, "delivered") not in ages


def test_a_guest_withdraws_from_the_demo_guest_order_at_once(settings):
    from oscar_ordercancel.models import WithdrawalDeclaration

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = ("custom-print",)
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    printed = out.getvalue()
    guest = _withdrawal_demo_orders(printed)["guest"]
    assert f"http://127.0.0.1:8000/withdraw/?order={guest.number}" in printed
    web = Client()
    assert web.get(f"/withdraw/?order={guest.number}").status_code == 200
    step_two = web.post("/withdraw/", {"name": "Gale Guest", "email": "guest.withdraw@example.com",
                                       "order_number": guest.number})
    assert step_two.status_code == 200, step_two.content.decode()[:2000]
    done = web.post(reverse("oscar_ordercancel:withdraw-confirm"),
                    {"token": step_two.context["token"]})
    assert done.status_code == 302
    declaration = WithdrawalDeclaration.objects.get(order=guest)
    guest.refresh_from_db()
    assert declaration.state == WithdrawalDeclaration.State.CANCELLED
    assert guest.status == "Cancelled"


@pytest.mark.parametrize("model", ["orderstatusmapping", "cancellationsettings", "ordercancellation"])
def test_admin_pages_open(client, superuser, order, model):
    from oscar_ordercancel.services import cancel_order

    cancellation = cancel_order(order, user=superuser)
    client.force_login(superuser)
    assert client.get(reverse(f"admin:oscar_ordercancel_{model}_changelist")).status_code == 200
    detail = client.get(reverse("admin:oscar_ordercancel_ordercancellation_change",
                                args=[cancellation.pk]))
    assert detail.status_code == 200 and str(order.number) in detail.content.decode()


@pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")
def test_the_demo_staff_login_reaches_every_staff_screen(client):
    call_command("load_demo_data", stdout=StringIO())
    assert client.login(username="staff@example.com", password="staff")
    pending = Order.objects.filter(status="Pending", user__email="customer@example.com").first()
    cancelled = Order.objects.filter(status="Cancelled").first()
    pages = [
        reverse("dashboard:order-list"),
        reverse("dashboard:order-detail", kwargs={"number": pending.number}),
        reverse("dashboard:order-cancel", kwargs={"number": pending.number}),
        reverse("dashboard:order-resubmit", kwargs={"number": cancelled.number}),
        reverse("ordercancel_dashboard:ordercancel-mapping-list"),
        reverse("ordercancel_dashboard:ordercancel-settings-site", kwargs={"site_id": 1}),
        reverse("ordercancel_dashboard:ordercancel-job-list"),
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    start = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [pending.pk]})
    assert client.get(start.url).status_code == 200


def test_the_sandbox_serves_links_on_its_port_and_prints_the_guest_order_page(client):
    out = StringIO()
    call_command("load_demo_data", "--port", "8100", stdout=out)
    printed = out.getvalue()
    assert Site.objects.get_current().domain == "127.0.0.1:8100"
    assert "http://127.0.0.1:8100/dashboard/orders/" in printed
    guest_line = next(line for line in printed.splitlines() if "guest order page" in line)
    email, path = guest_line.split("enter ", 1)[1].split("): http://127.0.0.1:8100", 1)
    guest = Client()
    page = guest.get(path, follow=True)
    if GUEST_ORDER_EMAIL_CHECK:  # Oscar 4.1+ asks for the order's e-mail address first
        assert page.status_code == 200 and page.redirect_chain
        page = guest.post(page.redirect_chain[-1][0], {"email": email}, follow=True)
    assert page.status_code == 200 and "Cancel order" in page.content.decode()
    makefile = (DOCS.parent / "Makefile").read_text()
    assert "sandbox.run --port $(PORT)" in makefile and "load_demo_data --port $(PORT)" in makefile
    from sandbox.run import server_command

    assert server_command(8100)[-2:] == ["runserver", "127.0.0.1:8100"]


# -- logging and the worker (what `make sandbox` runs) ---------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def sandbox_env(tmp_path, **extra) -> dict[str, str]:
    """The environment of a sandbox of its own: database, broker folder, media under tmp_path."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SANDBOX_", "CELERY_", "DJANGO_SETTINGS_MODULE"))}
    env.update(DJANGO_SETTINGS_MODULE="sandbox.settings", SANDBOX_DB=str(tmp_path / "db.sqlite3"),
               SANDBOX_BROKER_DIR=str(tmp_path / "broker"), PYTHONPATH=str(ROOT), **extra)
    return env


def test_the_sandbox_prints_the_logging_processors_payloads_on_the_console(tmp_path):
    script = ("import django; django.setup()\n"
              "from oscar_ordercancel.processors import LoggingProcessor\n"
              "LoggingProcessor('log').process({'job': 'OrderCancel', "
              "'parameters': {'OrderNumber': '100001'}}, 'key-1')\n")
    run = subprocess.run([sys.executable, "-c", script], env=sandbox_env(tmp_path), cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "OrderCancel 100001" in line]
    assert len(lines) == 1, run.stderr  # printed, and once
    assert "INFO oscar_ordercancel.processors: OrderCancel 100001 (key-1): " in lines[0]
    assert '"parameters": {"OrderNumber": "100001"}' in lines[0]


def test_demo_data_can_add_orders_and_a_file_for_a_batch(tmp_path):
    from oscar_ordercancel.batches.preview import create_batch

    path = tmp_path / "batch.csv"
    out = StringIO()
    call_command("load_demo_data", batch_orders=6, batch_file=str(path), stdout=out)
    wholesale = Order.objects.filter(user__email="wholesale@example.com")
    assert wholesale.count() == 6 and set(wholesale.values_list("status", flat=True)) == {"Pending"}
    assert f"A CSV batch of 8 rows to try: upload {path}" in out.getvalue()
    staff = get_user_model().objects.get(email="staff@example.com")
    with path.open("rb") as handle:
        batch = create_batch(handle, path.name, "orders", staff)
    verdicts = list(batch.rows.order_by("row_number").values_list("order_number", "preview_status"))
    assert verdicts == [*((o, "will_cancel") for o in wholesale.order_by("number")
                          .values_list("number", flat=True)),
                        (Order.objects.filter(status="Shipped").first().number, "error"),
                        ("999999", "error")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """The live processes whose command line or environment mentions ``marker`` (Linux: /proc)."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if (process / "stat").read_text().split(") ", 1)[1].startswith("Z"):
                continue  # a zombie: it has exited, only its exit status is left
            if any(marker.encode() in (process / name).read_bytes() for name in ("cmdline", "environ")):
                found.append(int(process.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_make_sandbox_runs_batches_and_cancel_jobs_in_a_worker_on_the_filesystem_broker(tmp_path):
    """``python -m sandbox.run`` (what ``make sandbox`` starts): a real worker, a moving batch."""
    import requests

    env = sandbox_env(tmp_path, SANDBOX_PROCESSORS="1")
    manage = [sys.executable, str(ROOT / "sandbox" / "manage.py")]
    port = _free_port()
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    subprocess.run([*manage, "load_demo_data", "--port", str(port), "--batch-orders", "60",
                    "--batch-file", str(tmp_path / "batch.csv")],
                   env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    log = (tmp_path / "sandbox.log").open("w+")
    sandbox = subprocess.Popen([sys.executable, "-m", "sandbox.run", "--port", str(port),
                                "--noreload"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        web = requests.Session()
        for __ in range(120):
            try:
                web.get(f"{base}/accounts/login/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        login = web.post(f"{base}/accounts/login/", data={
            "login-username": "staff@example.com", "login-password": "staff",
            "login_submit": "1", "csrfmiddlewaretoken": web.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"})
        assert login.status_code == 200 and "sessionid" in web.cookies
        upload_url = f"{base}/dashboard/ordercancel/batches/upload/?kind=orders"
        web.get(upload_url)
        with (tmp_path / "batch.csv").open("rb") as handle:
            preview = web.post(upload_url, files={"file": ("batch.csv", handle, "text/csv")},
                               data={"kind": "orders", "csrfmiddlewaretoken": web.cookies["csrftoken"]},
                               allow_redirects=False)
        assert preview.status_code == 302, preview.text[:2000]
        batch_url = base + preview.headers["Location"].replace("/preview/", "/")
        started = web.post(batch_url + "start/", data={"csrfmiddlewaretoken": web.cookies["csrftoken"]},
                           allow_redirects=False)
        assert started.status_code == 302
        # The Start request only queues the batch; the worker runs it (its log line below), and
        # may already have finished its 62 rows by the first reading.
        progress = [web.get(batch_url + "progress/").json()]
        while not progress[-1]["finished"] and len(progress) < 600:
            time.sleep(0.2)
            progress.append(web.get(batch_url + "progress/").json())
        assert progress[-1] | {"seconds_left": None} == {
            "state": "completed", "state_display": "Completed", "finished": True, "total": 62,
            "processed": 62, "succeeded": 60, "failed": 2, "percent": 100, "seconds_left": None,
            "error": ""}
        # ... and delivers the cancel jobs: the log processor's payloads on the console.
        db = sqlite3.connect(tmp_path / "db.sqlite3")
        for __ in range(300):
            states = dict(db.execute("SELECT state, COUNT(*) FROM oscar_ordercancel_canceljob "
                                     "WHERE cancellation_id IN (SELECT cancellation_id FROM "
                                     "oscar_ordercancel_cancellationbatchrow) GROUP BY state"))
            if states == {"succeeded": 60}:
                break
            time.sleep(0.2)
        db.close()
        assert states == {"succeeded": 60}
    finally:
        sandbox.send_signal(signal.SIGINT)  # Ctrl-C
        returncode = sandbox.wait(60)
        log.seek(0)
        output = log.read()
        log.close()
    assert returncode == 0, output[-3000:]
    assert re.search(r"Task oscar_ordercancel\.run_cancellation_batch\[\S+\] succeeded", output)
    payloads = [line for line in output.splitlines()
                if "INFO oscar_ordercancel.processors: OrderCancel " in line]
    assert len([line for line in payloads if '"channel": "batch"' in line]) == 60
    assert "sandbox: stopping the Celery worker" in output
    assert _processes_with(str(tmp_path / "broker")) == []  # worker and server are gone


def test_the_sandbox_stops_the_server_when_the_worker_dies(monkeypatch, capsys):
    from sandbox import run

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(run, "worker_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    monkeypatch.setattr(run, "server_command", lambda port, extra=(): sleeper)
    started = time.monotonic()
    assert run.main(["--port", "1"]) == 3
    assert time.monotonic() - started < 30  # the server was stopped, not waited for
    assert "the Celery worker stopped (exit status 3); stopping the server" in capsys.readouterr().err


def test_the_sandbox_stops_the_worker_when_the_server_stops(monkeypatch, tmp_path):
    from sandbox import run

    marker = tmp_path / "worker-ran"
    worker = [sys.executable, "-c",
              f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(60)"]
    monkeypatch.setattr(run, "worker_command", lambda: worker)
    monkeypatch.setattr(run, "server_command", lambda port, extra=(): [
        sys.executable, "-c", "import time; time.sleep(2)"])
    started = time.monotonic()
    assert run.main(["--port", "1"]) == 0
    assert marker.exists() and time.monotonic() - started < 30
    assert _processes_with(str(marker)) == []
