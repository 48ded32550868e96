"""``python -m recsys_cli`` runs the command line."""

from recsys_cli.main import main

raise SystemExit(main())
