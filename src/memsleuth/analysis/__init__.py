"""Pure functions over parsed records and series: no I/O, no rendering."""
