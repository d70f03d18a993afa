"""``python -m memsleuth``."""

from memsleuth.cli.main import main

raise SystemExit(main())
