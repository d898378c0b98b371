from vmmemviz.cli import main

raise SystemExit(main())
