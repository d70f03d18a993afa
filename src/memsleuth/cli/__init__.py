"""The ``memsleuth`` command line: a thin layer over snapshot, analysis and views."""
