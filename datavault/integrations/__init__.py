"""Orchestrators run a project's plan (``datavault.plan``): Dagster assets (``dagster.py``,
the extra ``datavault[dagster]``) and an Airflow DAG (``airflow.py``, ``datavault[airflow]``),
both over ``runs.py``. They use the toolkit through ``datavault.api`` and the plan only, and
the core never imports them."""
