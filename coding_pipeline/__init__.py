"""Segment caregiver-child interaction videos, code them blind in Label Studio,
and compute inter-rater reliability and per-dyad scores."""

__version__ = "0.1.0"
