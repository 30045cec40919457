"""The reverse-ETL engine: sync declarations, the warehouse-side diff and the run protocol."""
