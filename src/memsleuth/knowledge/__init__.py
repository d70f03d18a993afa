"""Signature knowledge: rules as data, the matcher, and attribution (DESIGN.md section 5)."""
