import sys

from zfkeras.cli import main

sys.exit(main())
