"""Lesson 04 graders (being written)."""

from __future__ import annotations
