"""Many tenants of the Exchange ⇄ Sell sync: registry, Dagster definitions, Celery workers."""
