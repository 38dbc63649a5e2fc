import sys

from videoassist.cli import main

sys.exit(main())
