"""Lesson 05 graders (being written)."""

from __future__ import annotations
