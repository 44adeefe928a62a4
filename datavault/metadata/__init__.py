"""Reading a project: YAML with locations (``yamlfile``), the checks every model file shares
(``checks``), and the reader that drives the kinds' checks into the model (``project``).

``load_project`` is imported when first asked for: the kinds (``datavault.kinds``) read their
files with ``checks``, and the reader reads through the kinds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_project"]


def __getattr__(name: str) -> Any:
    if name == "load_project":
        from datavault.metadata.project import load_project

        return load_project
    raise AttributeError(name)
