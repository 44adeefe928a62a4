"""Alembic environment of a datavault project.

The target metadata is built from the YAML model under models/, and the database is the one
`datavault` would use (--url / DATAVAULT_URL, else the profile in config/datavault.yml, else
vault.sqlite). With the plain alembic command, `-x url=...`, `-x profile=...` and
`-x drop_removed=true` do what datavault's options do.
"""

from datavault.migrate import run_environment

run_environment()
