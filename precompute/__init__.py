"""Offline pipeline: data → solver → geometry → artifact bundle."""
