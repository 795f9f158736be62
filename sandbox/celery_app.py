"""The sandbox's Celery app.

Under ``make sandbox`` (``SANDBOX_WORKER=1``) a worker started by sandbox/run.py runs the
tasks, which travel through kombu's filesystem transport (no broker server); otherwise
(manage.py by hand, the tests) they run eagerly, inside the request that sends them.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")

app = Celery("sandbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
