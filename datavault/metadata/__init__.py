"""Reading a project: YAML with locations, raw shapes, and validation into the model."""

from datavault.metadata.project import load_project

__all__ = ["load_project"]
