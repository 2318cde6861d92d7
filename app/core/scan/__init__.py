"""Folder scans on top of the screener: listing, shards, resume, the results CSV, the watch folder, and the
scorers that run the model on this machine or on a Dask cluster."""
