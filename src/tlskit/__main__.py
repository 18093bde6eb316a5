import sys

try:  # Ctrl-C while the CLI is still being imported: exit 130 as later, no traceback
    from tlskit.cli.main import main
except KeyboardInterrupt:
    sys.exit(130)

sys.exit(main())
