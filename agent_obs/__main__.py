"""``python -m agent_obs``: the same as the ``agent-obs`` command."""

import sys

from agent_obs.cli import main

sys.exit(main())
