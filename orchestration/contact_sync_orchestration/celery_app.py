"""The Celery app of the workers: dagster-celery's run tasks on our broker and result backend.

Start a worker (any machine with this checkout, `make setup`, and the environment of README
"Run many tenants"):

    orchestration/.venv/bin/celery -A contact_sync_orchestration.celery_app worker -Q dagster

Each task is one Dagster run, launched by the ``CeleryRunLauncher`` of dagster.yaml, whose
``broker`` and ``backend`` must be the same URLs. Tasks are acknowledged when a worker takes them
(Celery's default): a task whose worker dies is not handed to another worker, so it cannot run
twice; Dagster's run retry starts a new run instead.
"""

from __future__ import annotations

import os

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

BROKER = os.environ.get("CONTACT_SYNC_CELERY_BROKER", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("CONTACT_SYNC_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
QUEUE = "dagster"
# Shared by the workers and the launcher (dagster.yaml `config_source`).
CONFIG_SOURCE = {
    "worker_prefetch_multiplier": 1,  # a busy worker does not hoard tenants others could run
    "task_acks_late": False,
    "broker_connection_retry_on_startup": True,
}

app = make_app(
    {
        "broker": BROKER,
        "backend": BACKEND,
        "include": [],
        "config_source": CONFIG_SOURCE,
        "task_default_queue": QUEUE,
    }
)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
