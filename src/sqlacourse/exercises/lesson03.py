"""Lesson 03 graders (being written)."""

from __future__ import annotations
