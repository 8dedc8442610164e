from labbox.cli import main

raise SystemExit(main())
