"""`python -m judgerl ...` (used by torchrun: `torchrun -m judgerl stage RECIPE STAGE`)."""

import sys

from judgerl.cli.main import main

sys.exit(main())
