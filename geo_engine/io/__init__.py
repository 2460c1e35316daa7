"""Safe reading and writing.

Checked readers of user files, GDAL settings, atomic writes, YAML, the data manifest, locked
caches and the curated datasets. Nothing here knows about scores.
"""
