import sys

from tlskit.cli.main import main

sys.exit(main())
