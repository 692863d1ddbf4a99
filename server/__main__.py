"""`python -m server …`: see server/cli.py."""

import os
import sys

# gRPC's fork handlers are not needed (the server never forks to run Python) and can crash
# children forked while gRPC threads run (e.g. pg_ctl of the embedded Postgres at shutdown).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from server.cli import main

sys.exit(main())
