"""Settings of the sandbox shop: Oscar 4.2 with the oscar-ordercancel forks, SQLite, and Celery
(a worker on a filesystem broker under ``make sandbox``, eager otherwise)."""

import os
from datetime import timedelta
from pathlib import Path

import django
from oscar.defaults import *  # noqa: F401,F403
from oscar.defaults import OSCAR_DASHBOARD_NAVIGATION

from oscar_ordercancel.dashboard.navigation import add_to_navigation

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-not-secret")
DEBUG = os.environ.get("SANDBOX_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

#: The forks are listed in place of Oscar's own apps (set ORDERCANCEL_FORKS=0 for plain Oscar).
USE_FORKS = os.environ.get("ORDERCANCEL_FORKS", "1") == "1"
ORDER_APP = "oscar_ordercancel.order.apps.OrderConfig" if USE_FORKS else "oscar.apps.order.apps.OrderConfig"
ORDERS_DASHBOARD_APP = (
    "oscar_ordercancel.dashboard.orders.apps.OrdersDashboardConfig" if USE_FORKS
    else "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar_ordercancel.apps.OrderCancelConfig",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    ORDER_APP,
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    ORDERS_DASHBOARD_APP,
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "oscar_ordercancel.dashboard.apps.OrderCancelDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    "sandbox.demo",
]

try:  # django-oscar-api is the optional ``api`` extra
    import oscarapi  # noqa: F401

    INSTALLED_APPS += ["rest_framework", "oscarapi"]
    # can_cancel and cancellation on django-oscar-api's order serializers
    OSCARAPI_OVERRIDE_MODULES = ["oscar_ordercancel.api.oscarapi_overrides"]
except ImportError:
    pass

SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
ROOT_URLCONF = "sandbox.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]
AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SANDBOX_DB", str(BASE_DIR / "db.sqlite3")),
        "ATOMIC_REQUESTS": True,
        # A write transaction takes SQLite's lock when it begins (Django 5.1+), so two
        # simultaneous cancels queue up instead of failing with "database is locked";
        # one that still waits longer than the timeout (seconds) is told to try again.
        # Django 4.2 has no transaction_mode: there only the timeout applies.
        "OPTIONS": {"timeout": float(os.environ.get("SANDBOX_SQLITE_TIMEOUT", "20")),
                    **({"transaction_mode": "IMMEDIATE"} if django.VERSION >= (5, 1) else {})},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static_root"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"
_EMAIL_BACKEND = os.environ.get(
    "SANDBOX_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
if django.VERSION >= (6, 1):  # Django 6.1 configures mail with MAILERS (EMAIL_BACKEND is deprecated)
    MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND}}
else:
    EMAIL_BACKEND = _EMAIL_BACKEND
LOGIN_REDIRECT_URL = "/"

OSCAR_SHOP_NAME = "Ordercancel sandbox"
OSCAR_DEFAULT_CURRENCY = "GBP"
OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled", "Cancellation requested"),
    "Being processed": ("Shipped", "Cancelled", "Cancellation requested"),
    "Cancellation requested": ("Cancelled", "Pending", "Being processed"),
    "Shipped": ("Complete",),
    "Complete": (),
    "Cancelled": (),
}
OSCAR_ORDER_STATUS_CASCADE = {
    "Being processed": "Being processed",
    "Shipped": "Shipped",
    "Cancelled": "Cancelled",
}
OSCAR_LINE_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Shipped", "Cancelled"),
    "Shipped": (),
    "Cancelled": (),
}

# oscar-ordercancel: cancellable while pending; customers get 30 days.
OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Pending"]
OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(days=30)
OSCAR_DASHBOARD_NAVIGATION = add_to_navigation(OSCAR_DASHBOARD_NAVIGATION)
# The EU withdrawal function (docs/withdrawal.rst): on, with made-to-order prints excluded.
OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = ("custom-print",)
# Unpaid orders expire (docs/expiry.rst): bank transfers after 3 days, with a reminder a
# day before; invoices never; card orders are authorised at checkout, so they are paid.
OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE = {
    "bank-transfer": timedelta(days=3), "invoice": None}
OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(days=1)
OSCAR_ORDERCANCEL_PROCESSORS = [
    {"name": "log", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}},
] if os.environ.get("SANDBOX_PROCESSORS", "0") == "1" else []

# -- Celery ------------------------------------------------------------------------
#: ``make sandbox`` starts a Celery worker beside runserver (``SANDBOX_WORKER=1``, see
#: sandbox/run.py): tasks travel through kombu's filesystem transport, a folder, so there is
#: no broker server to install. Without it (manage.py by hand, the tests) tasks run eagerly,
#: inside the request that sends them.
SANDBOX_WORKER = os.environ.get("SANDBOX_WORKER", "0") == "1"
#: The filesystem broker's folders (``make sandbox-data`` empties them with the database).
SANDBOX_BROKER_DIR = Path(os.environ.get("SANDBOX_BROKER_DIR", BASE_DIR / "broker"))
CELERY_TASK_EAGER_PROPAGATES = True
if SANDBOX_WORKER:
    from oscar_ordercancel.tasks import BEAT_SCHEDULE as ORDERCANCEL_BEAT_SCHEDULE

    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # one folder: the web process writes messages into it, the worker takes them out
        "data_folder_in": str(SANDBOX_BROKER_DIR / "queue"),
        "data_folder_out": str(SANDBOX_BROKER_DIR / "queue"),
        "control_folder": str(SANDBOX_BROKER_DIR / "control"),
        "processed_folder": str(SANDBOX_BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,  # seconds between looks into the folder
    }
    for _folder in ("queue", "control", "processed"):
        (SANDBOX_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_TASK_IGNORE_RESULT = True
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    # Beat runs inside the worker (``worker -B``): the dispatcher (due retries, lost
    # wake-ups) and the resumption of batches whose worker stopped.
    CELERY_BEAT_SCHEDULE = {
        **ORDERCANCEL_BEAT_SCHEDULE,
        "ordercancel-resume-batches": {
            "task": "oscar_ordercancel.resume_stalled_batches", "schedule": 300.0},
    }
    # The expiry sweep every minute (a shop: every 5), so that expiries show while you watch.
    CELERY_BEAT_SCHEDULE["oscar-ordercancel-expire-unpaid"] = {
        **ORDERCANCEL_BEAT_SCHEDULE["oscar-ordercancel-expire-unpaid"],
        "schedule": 60.0, "options": {"expires": 55.0}}
    CELERY_BEAT_SCHEDULE_FILENAME = str(SANDBOX_BROKER_DIR / "beat-schedule")
    # Small batch chunks, so that the batch page's progress bar moves on a few hundred rows
    # (the default of 500 rows per transaction suits a shop's real files).
    OSCAR_ORDERCANCEL_BATCH_CHUNK_SIZE = 20
else:
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
    CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") == "1"

#: The package's lines from INFO on (LoggingProcessor's payloads, delivery and batch
#: messages) on the console of runserver and of the worker.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "[{asctime}] {levelname} {name}: {message}", "style": "{",
                    "datefmt": "%d/%b/%Y %H:%M:%S"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "loggers": {
        # not propagated: Celery's worker gives the root logger a handler of its own
        "oscar_ordercancel": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

SILENCED_SYSTEM_CHECKS = ["ordercancel.W003"] if not OSCAR_ORDERCANCEL_PROCESSORS else []
