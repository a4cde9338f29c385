"""Lesson 02 graders (being written)."""

from __future__ import annotations
