"""datavault: Data Vault 2.0 from YAML, keeping late and corrected source data exactly."""

__version__ = "0.1.0"
