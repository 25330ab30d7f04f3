"""The demo's report: every section of the story computed with the library and written as one offline page."""

from ._demo import SECTIONS, DemoSettings, Section, run_demo

__all__ = ["run_demo", "DemoSettings", "Section", "SECTIONS"]
