"""The demo's report: every step of the story computed with the library and written as one offline page."""

from .demo import STEPS, DemoSettings, Section, run_demo

__all__ = ["run_demo", "DemoSettings", "Section", "STEPS"]
