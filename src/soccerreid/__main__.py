"""``python -m soccerreid``: the ``soccerreid`` command (:mod:`soccerreid.command`)."""

from soccerreid.command import main

raise SystemExit(main())
