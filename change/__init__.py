"""Phát hiện biến động rừng / forest change detection between two raster acquisitions.

A package of its own beside ``uav_ingest``: ingest registers rasters, ``change`` reads two
registered rasters (through the same access rule as the tiles) and writes ``change_events``.
"""
