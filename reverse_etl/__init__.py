"""The Python side of the CDP: demo data, identity tooling and the reverse-ETL sync service."""

__version__ = "0.1.0"
