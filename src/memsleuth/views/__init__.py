"""Renderers: typed models in, rich renderables or JSON-ready dicts out.

Views do no I/O and no analysis; they format what ``analysis`` computed.
Column specs are data (:class:`~memsleuth.views.common.Column`), shared by
the terminal table and the JSON keys.
"""
